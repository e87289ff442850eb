"""Patients cancel and move their booking from the private link."""

from datetime import UTC, datetime

import pytest
from django.test import Client

from carebook.audit.models import AuditEntry
from carebook.audit.services import WEBHOOK
from carebook.bookings.models import Booking
from carebook.bookings.services import settle_payment
from carebook.notifications.models import OutboxMessage
from carebook.payments.models import Refund
from tests.factories import make_booking

TUESDAY_TEN = "2026-12-08T10:00:00Z"
TUESDAY_ELEVEN = datetime(2026, 12, 8, 11, 0, tzinfo=UTC)
PAID_CARD = {"card_number": "4242 4242 4242 4242", "expiry": "12/30", "cvc": "123"}


@pytest.fixture
def paid(client, provider, now, settings, django_capture_on_commit_callbacks, jobs):
    """Book a consultation on Tuesday at 10:00 through the API and pay 80.00."""
    settings.STRIPE_SECRET_KEY = ""
    settings.CAREBOOK_BASE_URL = "http://testserver"
    provider.practice.late_cancellation_fee_percent = 50
    provider.practice.save()
    answer = client.post(
        "/api/v1/bookings",
        {
            "provider": provider.pk,
            "appointment_type": "consultation",
            "start": TUESDAY_TEN,
            "patient": {"name": "Zoë Ní Bhriain", "email": "zoe@example.ie"},
        },
        content_type="application/json",
    ).json()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(answer["payment_url"], PAID_CARD)
    jobs.run()
    return answer


def booking_of(answer) -> Booking:
    return Booking.objects.get(reference=answer["reference"])


def cancel_url(answer):
    return f"/booking/{answer['token']}/cancel/"


def reschedule_url(answer):
    return f"/booking/{answer['token']}/reschedule/"


def test_the_booking_page_offers_to_cancel_and_to_move(client, paid):
    page = client.get(f"/booking/{paid['token']}/").content.decode()

    assert f'href="{cancel_url(paid)}"' in page
    assert f'href="{reschedule_url(paid)}?tz=Europe/Dublin"' in page


def test_the_booking_page_shows_until_when_each_change_is_open(client, paid, provider):
    provider.practice.cancel_cutoff_hours = 2
    provider.practice.reschedule_cutoff_hours = 24
    provider.practice.save()

    page = client.get(f"/booking/{paid['token']}/").content.decode()

    assert (
        '<span class="meta" id="cancel-deadline">Online until Tuesday 8 December '
        "2026, 08:00 (Europe/Dublin)</span>" in page
    )
    assert (
        '<span class="meta" id="move-deadline">Online until Monday 7 December '
        "2026, 10:00 (Europe/Dublin)</span>" in page
    )


def test_the_cancel_page_shows_the_refund_and_changes_nothing(client, paid):
    entries = AuditEntry.objects.count()

    response = client.get(cancel_url(paid))

    assert response.status_code == 200
    assert (
        "Cancelling now gives back <strong>€80.00</strong>" in response.content.decode()
    )
    assert booking_of(paid).status == Booking.Status.CONFIRMED
    assert AuditEntry.objects.count() == entries


def test_a_late_cancellation_shows_the_fee_before_confirming(client, paid, now):
    now.move_to(datetime(2026, 12, 7, 11, 0, tzinfo=UTC))  # 23 hours before

    page = client.get(cancel_url(paid)).content.decode()

    assert (
        "You paid €80.00 online. Cancelling now gives back <strong>€40.00</strong>"
        in page
    )


def test_cancelling_with_a_post_cancels_and_refunds_by_the_policy(
    client, paid, django_capture_on_commit_callbacks, jobs
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(cancel_url(paid))
    jobs.run()

    assert (response.status_code, response["Location"]) == (
        302,
        f"/booking/{paid['token']}/",
    )
    booking = booking_of(paid)
    assert booking.status == Booking.Status.CANCELLED
    assert list(Refund.objects.values_list("amount", "status")) == [(8000, "succeeded")]
    assert (
        AuditEntry.objects.filter(
            action="booking.cancelled", object_id=str(booking.pk), actor_kind="patient"
        ).count()
        == 1
    )


def test_a_cancellation_inside_the_cut_off_is_refused_with_the_reason(
    client, paid, provider, now
):
    provider.practice.cancel_cutoff_hours = 24
    provider.practice.save()
    now.move_to(datetime(2026, 12, 7, 10, 0, 1, tzinfo=UTC))  # 24 h less 1 s before
    reason = (
        "Cancelling online closes 24 hours before the appointment. "
        "Please call the practice."
    )

    shown = client.get(cancel_url(paid))
    refused = client.post(cancel_url(paid))

    assert reason in shown.content.decode()
    assert 'type="submit"' not in shown.content.decode()
    assert refused.status_code == 409
    assert reason in refused.content.decode()
    assert booking_of(paid).status == Booking.Status.CONFIRMED
    assert Refund.objects.count() == 0


def test_a_cancellation_exactly_at_the_cut_off_is_allowed(client, paid, provider, now):
    provider.practice.cancel_cutoff_hours = 24
    provider.practice.save()
    now.move_to(datetime(2026, 12, 7, 10, 0, tzinfo=UTC))

    response = client.post(cancel_url(paid))

    assert response.status_code == 302
    assert booking_of(paid).status == Booking.Status.CANCELLED


def test_nothing_changes_once_the_appointment_has_started(client, paid, now):
    now.move_to(datetime(2026, 12, 8, 10, 0, tzinfo=UTC))

    cancel = client.post(cancel_url(paid))
    move = client.post(
        reschedule_url(paid),
        {"start": "2026-12-09T10:00:00+00:00", "timezone": "Europe/Dublin"},
    )

    assert (cancel.status_code, move.status_code) == (409, 409)
    booking = booking_of(paid)
    assert (booking.status, booking.start.isoformat()) == (
        "confirmed",
        "2026-12-08T10:00:00+00:00",
    )


def test_a_get_on_the_cancel_address_never_cancels(client, paid):
    for _ in range(3):
        client.get(cancel_url(paid))

    assert booking_of(paid).status == Booking.Status.CONFIRMED


def test_cancel_and_move_need_the_csrf_token(paid, provider):
    browser = Client(enforce_csrf_checks=True)

    cancel = browser.post(cancel_url(paid))
    move = browser.post(
        reschedule_url(paid),
        {"start": "2026-12-08T11:00:00+00:00", "timezone": "Europe/Dublin"},
    )

    assert (cancel.status_code, move.status_code) == (403, 403)
    booking = booking_of(paid)
    assert (booking.status, booking.start.isoformat()) == (
        "confirmed",
        "2026-12-08T10:00:00+00:00",
    )


def test_moving_keeps_one_booking_with_its_reference_and_price(
    client, paid, django_capture_on_commit_callbacks
):
    page = client.get(reschedule_url(paid)).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reschedule_url(paid),
            {"start": TUESDAY_ELEVEN.isoformat(), "timezone": "Europe/Dublin"},
        )

    assert 'aria-label="Tuesday 8 December 2026 at 11:00"' in page
    assert response.status_code == 302
    assert Booking.objects.count() == 1
    booking = booking_of(paid)
    assert (booking.start, booking.price_amount, booking.sequence) == (
        TUESDAY_ELEVEN,
        8000,
        1,
    )


def test_an_old_reschedule_page_cannot_make_a_second_booking(client, paid):
    first = {"start": TUESDAY_ELEVEN.isoformat(), "timezone": "Europe/Dublin"}
    again = {"start": "2026-12-08T14:00:00+00:00", "timezone": "Europe/Dublin"}

    client.post(reschedule_url(paid), first)
    client.post(reschedule_url(paid), again)
    client.post(cancel_url(paid))
    late = client.post(reschedule_url(paid), first)

    assert late.status_code == 409
    assert "A cancelled booking cannot be moved." in late.content.decode()
    assert list(Booking.objects.values_list("status", "start")) == [
        ("cancelled", datetime(2026, 12, 8, 14, 0, tzinfo=UTC))
    ]


def test_moving_to_a_taken_time_is_refused_and_keeps_the_old_time(
    client, paid, provider, consultation
):
    make_booking(provider, consultation, TUESDAY_ELEVEN)

    response = client.post(
        reschedule_url(paid),
        {"start": TUESDAY_ELEVEN.isoformat(), "timezone": "Europe/Dublin"},
    )

    assert response.status_code == 409
    assert "that time is no longer available" in response.content.decode()
    assert booking_of(paid).start.isoformat() == "2026-12-08T10:00:00+00:00"


def test_moving_inside_the_cut_off_is_refused_with_the_reason(client, paid, provider):
    provider.practice.reschedule_cutoff_hours = 48
    provider.practice.save()

    shown = client.get(reschedule_url(paid))
    refused = client.post(
        reschedule_url(paid),
        {"start": TUESDAY_ELEVEN.isoformat(), "timezone": "Europe/Dublin"},
    )

    reason = (
        "Moving online closes 48 hours before the appointment. "
        "Please call the practice."
    )
    assert reason in shown.content.decode()
    assert 'class="slot"' not in shown.content.decode()
    assert (refused.status_code, reason in refused.content.decode()) == (409, True)
    assert booking_of(paid).start.isoformat() == "2026-12-08T10:00:00+00:00"


def test_the_move_page_offers_the_times_next_to_the_booking_itself(client, paid):
    page = client.get(reschedule_url(paid))

    labels = [label for _, day in page.context["days"] for _, label in day]
    starts = {slot.start for _, day in page.context["days"] for slot, _ in day}
    # 09:30 would end at 10:00 and 10:15 overlap 10:00: free but for itself.
    assert datetime(2026, 12, 8, 9, 30, tzinfo=UTC) in starts
    assert datetime(2026, 12, 8, 10, 15, tzinfo=UTC) in starts
    assert datetime(2026, 12, 8, 10, 0, tzinfo=UTC) not in starts
    assert "10:15" in labels


def test_a_moved_booking_says_where_it_moved(client, paid):
    response = client.post(
        reschedule_url(paid),
        {"start": TUESDAY_ELEVEN.isoformat(), "timezone": "Europe/Dublin"},
        follow=True,
    )

    assert (
        "Your appointment has moved to Tuesday 8 December 2026, 11:00 "
        "(Europe/Dublin)." in response.content.decode()
    )


@pytest.mark.parametrize(
    "start", ["2026-12-09T07:00:00+20:00", "2026-12-08T22:00:00+11:00"]
)
def test_a_start_with_any_offset_is_read_as_the_same_instant(client, paid, start):
    # Both are 11:00 UTC; PostgreSQL refuses offsets beyond ±15:59 itself.
    response = client.post(
        reschedule_url(paid), {"start": start, "timezone": "Europe/Dublin"}
    )

    assert response.status_code == 302
    assert booking_of(paid).start == TUESDAY_ELEVEN


def test_cancelling_names_the_refund_on_the_page_and_in_the_email(
    client, paid, django_capture_on_commit_callbacks, jobs
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(cancel_url(paid))

    page = client.get(f"/booking/{paid['token']}/").content.decode()
    email = OutboxMessage.objects.get(template="booking_cancelled")
    assert (
        '<p id="refund">€80.00 is being refunded to your card; it takes a few days '
        "to arrive.</p>" in page
    )
    assert (
        "We are refunding €80.00 of what you paid; it will be back on your card "
        "within a few days." in email.body_text
    )


def test_money_that_arrives_after_the_patient_cancelled_goes_back_as_such(
    client, provider, now, settings, django_capture_on_commit_callbacks
):
    settings.STRIPE_SECRET_KEY = ""
    answer = client.post(
        "/api/v1/bookings",
        {
            "provider": provider.pk,
            "appointment_type": "consultation",
            "start": TUESDAY_TEN,
            "patient": {"name": "Zoë Ní Bhriain", "email": "zoe@example.ie"},
        },
        content_type="application/json",
    ).json()
    booking = booking_of(answer)
    client.post(cancel_url(answer))

    # The card processor reports a payment made before the page closed.
    with django_capture_on_commit_callbacks(execute=True):
        settle_payment(booking.payments.get().pk, "demo_late", WEBHOOK)

    assert list(Refund.objects.values_list("amount", "reason")) == [
        (8000, "cancellation")
    ]
    email = OutboxMessage.objects.get(template="payment_refunded")
    assert (
        "Your payment of €80.00 reached us after this booking had been cancelled."
        in email.body_text
    )


def test_moving_is_refused_once_the_provider_takes_no_bookings(client, paid, provider):
    provider.is_active = False
    provider.save(update_fields=["is_active"])
    reason = (
        "Dr Ada Lovelace takes no new bookings of this kind, so this booking "
        "cannot be moved here. Please call the practice on +353 1 555 0199."
    )
    provider.practice.phone = "+353 1 555 0199"
    provider.practice.save(update_fields=["phone"])

    shown = client.get(reschedule_url(paid))
    refused = client.post(
        reschedule_url(paid),
        {"start": TUESDAY_ELEVEN.isoformat(), "timezone": "Europe/Dublin"},
    )

    assert reason in shown.content.decode()
    assert refused.status_code == 409
    assert booking_of(paid).start.isoformat() == "2026-12-08T10:00:00+00:00"


def test_the_cut_off_refusal_gives_the_practices_phone(client, paid, provider):
    provider.practice.reschedule_cutoff_hours = 48
    provider.practice.phone = "+353 1 555 0199"
    provider.practice.save()

    page = client.get(f"/booking/{paid['token']}/").content.decode()

    assert (
        "Moving online closes 48 hours before the appointment. Please call the "
        "practice on +353 1 555 0199." in page
    )
