"""Input no database can hold, and what must never reach a log.

Each answer is a 4xx, never a 500, on SQLite and on PostgreSQL alike.
"""

import io
import logging

import pytest
from django.test import Client

from carebook.log_filters import RedactSecrets
from carebook.staff.models import Role
from carebook.staff.roles import assign_role
from carebook.waitlist.forms import JoinForm
from carebook.web.templatetags.carebook import zone_label
from tests.factories import make_booking
from tests.web.test_self_service import TUESDAY_ELEVEN

BEYOND_64_BITS = "99999999999999999999999"
LARGEST_64_BITS_PLUS_ONE = str(2**63)


@pytest.fixture
def owner(django_user_model):
    user = django_user_model.objects.create_user("owner")
    assign_role(user, Role.OWNER)
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("number", [BEYOND_64_BITS, LARGEST_64_BITS_PLUS_ONE, "0"])
@pytest.mark.parametrize(
    "address",
    [
        "/providers/{n}/",
        "/providers/{n}/book/consultation/",
        "/waitlist/join/{n}/consultation/",
        "/api/v1/providers/{n}/slots?appointment_type=consultation"
        "&start=2026-12-08&end=2026-12-08",
    ],
)
def test_ids_no_database_holds_are_not_found(client, provider, now, number, address):
    response = client.get(address.format(n=number))

    assert response.status_code == 404


@pytest.mark.parametrize("number", [BEYOND_64_BITS, LARGEST_64_BITS_PLUS_ONE])
def test_staff_ids_no_database_holds_are_not_found(owner, provider, now, number):
    assert owner.get(f"/staff/hours/{number}/").status_code == 404
    assert (
        owner.post(f"/staff/hours/{provider.pk}/time-off/{number}/remove/").status_code
        == 404
    )


def test_a_booking_for_a_provider_id_beyond_64_bits_is_a_field_error(client, now):
    response = client.post(
        "/api/v1/bookings",
        {
            "provider": int(LARGEST_64_BITS_PLUS_ONE),
            "appointment_type": "consultation",
            "start": "2026-12-08T11:00:00Z",
            "patient": {"name": "Zoë", "email": "zoe@example.ie"},
        },
        content_type="application/json",
    )

    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "data", "provider"]


@pytest.mark.parametrize("reference", ["%00", "AB%00CD", "AB-CD", "Ä" * 4])
def test_references_that_are_no_references_are_not_found(owner, client, reference):
    assert owner.get(f"/staff/bookings/{reference}/").status_code == 404
    assert owner.post(f"/staff/bookings/{reference}/cancel/").status_code == 404
    assert client.get(f"/api/v1/bookings/{reference}").status_code == 404


def test_staff_cannot_add_or_delete_payments_in_the_admin(owner):
    assert owner.get("/admin/payments/payment/add/").status_code == 403
    listing = owner.get("/admin/payments/payment/")
    assert listing.status_code == 200
    assert (
        list(listing.context["cl"].model_admin.get_actions(listing.wsgi_request)) == []
    )


def test_a_token_in_a_refused_post_stays_out_of_the_log(
    provider, consultation, monkeypatch
):
    booking = make_booking(provider, consultation, TUESDAY_ELEVEN)
    browser = Client(enforce_csrf_checks=True)
    # The handler that writes the security log, behind the redacting filter.
    [handler] = [
        handler
        for handler in logging.getLogger("django.security").handlers
        if any(isinstance(each, RedactSecrets) for each in handler.filters)
    ]
    written = io.StringIO()
    monkeypatch.setattr(handler, "stream", written)

    response = browser.post(f"/booking/{booking.token}/cancel/")

    assert response.status_code == 403
    log = written.getvalue()
    assert booking.token not in log
    assert (
        "WARNING django.security.csrf Forbidden (CSRF cookie not set.): "
        "/booking/[redacted]/cancel/" in log
    )


@pytest.mark.parametrize(
    ("zone", "label"),
    [
        ("Europe/Dublin", "Europe/Dublin (Irish Time)"),
        ("UTC", "UTC"),
        ("Not/AZone", "Not/AZone"),
    ],
)
def test_zone_labels_read_well_and_never_fail(zone, label):
    assert zone_label(zone) == label


def test_a_booking_with_an_offset_postgresql_refuses_is_made_in_utc(
    client, provider, now, settings
):
    settings.CAREBOOK_BASE_URL = "http://testserver"
    # 07:00 at +20:00 on 9 December is 11:00 UTC on 8 December.
    response = client.post(
        "/api/v1/bookings",
        {
            "provider": provider.pk,
            "appointment_type": "consultation",
            "start": "2026-12-09T07:00:00+20:00",
            "patient": {"name": "Zoë", "email": "zoe@example.ie"},
        },
        content_type="application/json",
    )

    assert response.status_code == 201
    assert response.json()["start"] == "2026-12-08T11:00:00Z"


@pytest.mark.parametrize(
    ("text", "errors"),
    [
        ("2026-12-08", []),
        ("1999-12-31", ["Enter a date from 2000 to 2199."]),
        ("2200-01-01", ["Enter a date from 2000 to 2199."]),
        ("8 December", ["Enter a valid date."]),
    ],
)
def test_a_picked_day_lies_within_the_dates_carebook_books(text, errors):
    form = JoinForm({"first_day": text})
    form.is_valid()

    assert form.errors.get("first_day", []) == errors
