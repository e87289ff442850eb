"""Staff roles: what each sees and may change in the staff admin."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction

from carebook.bookings.models import Booking
from carebook.staff.models import ApiToken, Role, StaffMember
from carebook.staff.roles import assign_role, own_provider_id, role_of
from tests.conftest import MONDAY_MORNING
from tests.factories import make_booking


def test_a_role_makes_a_staff_user_in_exactly_that_group(users):
    assign_role(users["desk"], Role.OWNER)

    users["desk"].refresh_from_db()
    assert users["desk"].is_staff
    assert [group.name for group in users["desk"].groups.all()] == ["Owner"]
    assert role_of(users["desk"]) == Role.OWNER


def test_roles_of_each_kind_of_user(users, django_user_model):
    root = django_user_model.objects.create_superuser("root")

    assert [role_of(users[name]) for name in ("owner", "desk", "ada", "outsider")] == [
        Role.OWNER,
        Role.FRONT_DESK,
        Role.PROVIDER,
        None,
    ]
    assert role_of(root) == Role.OWNER
    assert own_provider_id(users["ada"]) == users["ada"].staff_member.provider_id
    assert own_provider_id(users["owner"]) is None


def test_the_database_refuses_a_provider_role_without_a_provider(users):
    with pytest.raises(IntegrityError), transaction.atomic():
        StaffMember.objects.filter(user=users["ada"]).update(provider=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        StaffMember.objects.filter(user=users["desk"]).update(
            provider=users["ada"].staff_member.provider
        )


def test_the_role_groups_hold_the_documented_permissions(users):
    desk = set(
        Group.objects.get(name="Front desk").permissions.values_list(
            "codename", flat=True
        )
    )
    provider = set(
        Group.objects.get(name="Provider").permissions.values_list(
            "codename", flat=True
        )
    )

    assert "change_booking" in desk and "change_practice" not in desk
    assert provider == {"view_booking", "view_waitlistentry", "view_waitlistoffer"}
    assert users["owner"].has_perm("practice.change_service")
    assert not users["desk"].has_perm("practice.change_service")
    assert users["desk"].has_perm("practice.change_timeoff")


def test_a_provider_sees_only_their_own_bookings_in_the_admin(
    client, users, provider, grace, consultation, now
):
    start = MONDAY_MORNING + timedelta(days=1, hours=2)
    own = make_booking(provider, consultation, start)
    other = make_booking(grace, consultation, start)
    client.force_login(users["ada"])

    listing = client.get("/admin/bookings/booking/")
    refused = client.get(f"/admin/bookings/booking/{other.pk}/change/")

    assert [booking.pk for booking in listing.context["cl"].result_list] == [own.pk]
    assert refused.status_code == 302  # "does not exist", back to the list
    assert client.get("/admin/payments/payment/").status_code == 403


def test_the_front_desk_cannot_change_providers_or_prices(client, users, provider):
    client.force_login(users["desk"])

    response = client.post(
        f"/admin/practice/provider/{provider.pk}/change/", {"name": "Dr Nobody"}
    )

    assert response.status_code == 403
    provider.refresh_from_db()
    assert provider.name == "Dr Ada Lovelace"
    assert [service.price_amount for service in provider.services.all()] == [8000, 4500]


def test_someone_without_a_role_is_kept_out_of_the_admin(client, users, provider):
    client.force_login(users["outsider"])

    response = client.get("/admin/bookings/booking/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_front_desk_marks_a_no_show_from_the_admin(
    client, users, provider, consultation, now
):
    booking = make_booking(provider, consultation, MONDAY_MORNING - timedelta(hours=1))
    client.force_login(users["desk"])

    client.post(
        "/admin/bookings/booking/",
        {"action": "mark_no_show", "_selected_action": [booking.pk]},
    )

    booking.refresh_from_db()
    assert booking.status == Booking.Status.NO_SHOW


def test_a_provider_cannot_run_booking_actions(
    client, users, provider, consultation, now
):
    booking = make_booking(provider, consultation, MONDAY_MORNING - timedelta(hours=1))
    client.force_login(users["ada"])

    client.post(
        "/admin/bookings/booking/",
        {"action": "mark_no_show", "_selected_action": [booking.pk]},
    )

    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED


def test_create_api_token_prints_a_key_once(users, capsys):
    call_command("create_api_token", "owner", "--name", "spreadsheet")

    key = capsys.readouterr().out.strip()
    token = ApiToken.objects.get()
    assert (token.name, token.user, key.startswith("cbk_" + token.prefix)) == (
        "spreadsheet",
        users["owner"],
        True,
    )


@pytest.mark.parametrize(
    ("username", "message"),
    [
        ("nobody", "No user is called 'nobody'."),
        ("outsider", "'outsider' has no staff role"),
    ],
)
def test_create_api_token_refuses_unknown_users_and_non_staff(users, username, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_api_token", username)

    assert ApiToken.objects.count() == 0
