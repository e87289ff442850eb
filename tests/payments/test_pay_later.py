"""A booking the desk confirmed unpaid is paid later from the patient's link.

Payments go through the local Stripe server with the official SDK.
"""

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.test import Client

from carebook.audit.services import JOB
from carebook.bookings import services
from carebook.bookings.models import Booking
from carebook.notifications.models import OutboxMessage
from carebook.practice.models import AppointmentType
from tests.conftest import MONDAY_MORNING
from tests.web.test_self_service import TUESDAY_ELEVEN


def book_to_pay_later(provider):
    """Book Tuesday 11:00 at the desk, confirmed, to be paid online later."""
    return services.book_slot(
        provider=provider,
        appointment_type=AppointmentType.objects.get(slug="consultation"),
        start=TUESDAY_ELEVEN,
        patient_timezone="Europe/Dublin",
        source=Booking.Source.STAFF,
        actor=JOB,
        patient=services.PatientDetails("Zoë Ní Bhriain", "zoe@example.ie"),
        payment_plan=Booking.PaymentPlan.LATER,
        return_url_for=lambda token: f"http://testserver/booking/{token}/",
    )


@pytest.fixture
def later(provider, stripe_settings):
    return book_to_pay_later(provider)


def pay_link(held) -> str:
    return f"/booking/{held.token}/pay/"


def open_stripe_page(client, held) -> str:
    """Press "Pay online now" and follow it to Stripe; return the session id."""
    checkout = client.post(pay_link(held))["Location"]
    stripe_page = client.get(checkout)["Location"]
    return urlsplit(stripe_page).path.rsplit("/", 1)[-1]


def test_paying_later_keeps_the_booking_confirmed_and_sends_a_receipt(
    client, later, stripe_server, deliver, django_capture_on_commit_callbacks
):
    session_id = open_stripe_page(client, later)
    [session] = stripe_server.objects("checkout.session")
    stripe_server.pay(session_id)

    with django_capture_on_commit_callbacks(execute=True):
        response = deliver("checkout.session.completed", session_id)

    assert response.json() == {"received": True, "outcome": "paid"}
    booking = Booking.objects.get(pk=later.booking.pk)
    assert (booking.status, booking.payments.get().status) == ("confirmed", "succeeded")
    assert session["expires_at"] == int(
        (MONDAY_MORNING + timedelta(hours=1)).timestamp()
    )
    assert OutboxMessage.objects.filter(template="payment_receipt").count() == 1
    assert OutboxMessage.objects.filter(template="booking_confirmed").count() == 1


def test_a_second_press_after_the_checkout_closed_opens_a_new_one(
    client, later, stripe_server, now
):
    first = open_stripe_page(client, later)
    stripe_server.expire(first)
    now.move_to(MONDAY_MORNING + timedelta(hours=1, minutes=3))

    second = open_stripe_page(client, later)

    assert second != first
    assert sorted(later.booking.payments.values_list("status", flat=True)) == [
        "cancelled",
        "pending",
    ]


def test_a_second_press_within_the_window_reuses_the_checkout(client, later, now):
    first = open_stripe_page(client, later)
    now.move_to(MONDAY_MORNING + timedelta(minutes=20))

    assert open_stripe_page(client, later) == first
    assert later.booking.payments.count() == 1


def test_a_free_booking_paid_later_offers_nothing_to_pay(provider, stripe_settings):
    provider.services.filter(appointment_type__slug="consultation").update(
        price_amount=0
    )
    held = book_to_pay_later(provider)
    patient = Client()

    page = patient.get(f"/booking/{held.token}/").content.decode()
    pressed = patient.post(pay_link(held))

    assert "Pay online now" not in page
    assert pressed["Location"] == f"/booking/{held.token}/"
    assert held.booking.payments.count() == 0


def test_the_card_page_of_a_pay_later_checkout_closes_after_its_hour(
    provider, settings, now
):
    settings.STRIPE_SECRET_KEY = ""
    held = book_to_pay_later(provider)
    patient = Client()
    checkout = patient.post(pay_link(held))["Location"]
    now.move_to(MONDAY_MORNING + timedelta(hours=1))

    late = patient.post(
        checkout,
        {"card_number": "4242 4242 4242 4242", "expiry": "12/30", "cvc": "123"},
    )

    assert late.status_code == 200
    assert late.context["is_open"] is False
    assert held.booking.payments.get().status == "pending"
    # Pressing the button again opens a new checkout, once the old one is
    # surely over.
    now.move_to(MONDAY_MORNING + timedelta(hours=1, minutes=3))
    assert patient.post(pay_link(held))["Location"] != checkout
