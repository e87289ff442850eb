"""The staff admin: who may open it, and how it shows bookings."""

from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model

from carebook.audit.models import AuditEntry
from carebook.bookings.models import Booking
from tests.conftest import make_provider
from tests.factories import make_booking

ELEVEN = datetime(2026, 12, 7, 11, 0, tzinfo=UTC)


@pytest.fixture
def booking(provider, consultation):
    return make_booking(
        provider,
        consultation,
        ELEVEN,
        reference="K7M2Q9XR",
        patient_name="Zoë Ní Bhriain",
    )


def test_admin_shows_appointment_times_in_the_practices_zone(
    client, admin_user, booking, practice
):
    practice.timezone = "Asia/Tokyo"
    practice.save()
    client.force_login(admin_user)

    page = client.get("/admin/bookings/booking/").content.decode()

    # 11:00 UTC is 20:00 in Tokyo.
    assert "Dec. 7, 2026, 8 p.m." in page
    assert "K7M2Q9XR" in page


def test_admin_searches_bookings_by_patient_name(client, admin_user, booking):
    client.force_login(admin_user)

    found = client.get("/admin/bookings/booking/", {"q": "Bhriain"}).content.decode()
    missed = client.get("/admin/bookings/booking/", {"q": "Smith"}).content.decode()

    assert "K7M2Q9XR" in found
    assert "K7M2Q9XR" not in missed


def test_a_patient_account_without_staff_rights_is_refused(client, booking):
    outsider = get_user_model().objects.create_user("patient", password="x" * 20)
    client.force_login(outsider)

    seen = client.get(f"/admin/bookings/booking/{booking.pk}/change/")
    deleted = client.post(
        f"/admin/bookings/booking/{booking.pk}/delete/", {"post": "yes"}
    )

    assert (seen.status_code, deleted.status_code) == (302, 302)
    assert seen.url.startswith("/admin/login/")
    assert deleted.url.startswith("/admin/login/")
    assert Booking.objects.filter(pk=booking.pk, status="confirmed").exists()


def test_staff_cannot_move_a_booking_in_the_admin(
    client, admin_user, booking, practice
):
    other = make_provider(practice, "alan-turing", "Dr Alan Turing")
    client.force_login(admin_user)

    answer = client.post(
        f"/admin/bookings/booking/{booking.pk}/change/",
        {
            "provider": other.pk,
            "start_0": "2026-12-08",
            "start_1": "09:00",
            "patient_name": "Zoë Ní Bhriain",
            "patient_email": "zoe@example.ie",
            "patient_phone": "+353 1 555 0100",
            "payments-TOTAL_FORMS": "0",
            "payments-INITIAL_FORMS": "0",
        },
    )

    assert answer.status_code == 302
    booking.refresh_from_db()
    assert (booking.provider_id, booking.start) == (booking.provider.pk, ELEVEN)
    assert booking.patient_phone == "+353 1 555 0100"
    entry = AuditEntry.objects.get(action="booking.contact_changed")
    assert (entry.actor_kind, entry.actor_user, entry.changes) == (
        "staff",
        admin_user,
        {"fields": ["patient_email", "patient_phone"]},
    )


def test_bookings_are_neither_added_nor_deleted_in_the_admin(
    client, admin_user, booking
):
    client.force_login(admin_user)

    added = client.get("/admin/bookings/booking/add/")
    deleted = client.post(
        f"/admin/bookings/booking/{booking.pk}/delete/", {"post": "yes"}
    )

    assert (added.status_code, deleted.status_code) == (403, 403)
    assert Booking.objects.count() == 1


@pytest.mark.parametrize(
    ("contact", "field", "message"),
    [
        (
            {"patient_email": "zoe@example.ie", "patient_phone": "call me maybe"},
            "patient_phone",
            "Enter a phone number: digits, spaces and + - ( ) . / only.",
        ),
        (
            {"patient_email": "", "patient_phone": ""},
            "patient_email",
            "Give an email address or a phone number.",
        ),
    ],
)
def test_contact_details_in_the_admin_are_checked_and_nothing_saved(
    client, admin_user, booking, contact, field, message
):
    client.force_login(admin_user)

    answer = client.post(
        f"/admin/bookings/booking/{booking.pk}/change/",
        {
            "patient_name": "Zoë Ní Bhriain",
            **contact,
            "payments-TOTAL_FORMS": "0",
            "payments-INITIAL_FORMS": "0",
        },
    )

    assert answer.status_code == 200
    assert answer.context["adminform"].form.errors[field] == [message]
    booking.refresh_from_db()
    assert (booking.patient_email, booking.patient_phone) == ("", "")
    assert AuditEntry.objects.filter(action="booking.contact_changed").count() == 0
