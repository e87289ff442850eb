"""The patient pages: find a provider, pick a time, give details, pay."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from carebook.audit.services import PATIENT
from carebook.bookings import services
from carebook.bookings.models import Booking
from carebook.payments.models import Payment, PaymentAttempt
from carebook.practice.models import Service
from tests.conftest import MONDAY_MORNING, make_provider

TEN = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
PATIENT_FORM = {"name": "Zoë Ní Bhriain", "email": "zoe@example.ie", "phone": ""}
PAID_CARD = {"card_number": "4242 4242 4242 4242", "expiry": "12/30", "cvc": "123"}
DECLINED_CARD = {**PAID_CARD, "card_number": "4000 0000 0000 0002"}


def picker_url(provider, type_slug="consultation"):
    return f"/providers/{provider.pk}/book/{type_slug}/"


def hold_url(provider, type_slug="consultation"):
    return f"/providers/{provider.pk}/book/{type_slug}/hold/"


def slot_labels(response) -> list[str]:
    """Return the spoken labels of the slot buttons, in page order."""
    return re.findall(r'class="slot" aria-label="([^"]+)"', response.content.decode())


def hold_form(start=TEN, zone="Europe/Dublin", journey=""):
    return {"start": start.isoformat(), "timezone": zone, "journey": journey}


@pytest.fixture
def token(client, provider, now):
    """Hold 10:00 on the frozen Monday through the pages; return its token."""
    journey = client.get(picker_url(provider)).context["journey"]
    response = client.post(hold_url(provider), hold_form(journey=journey))
    return re.fullmatch(r"/booking/([^/]+)/details/", response.url)[1]


@pytest.fixture
def checkout_path(client, settings, token):
    """Give the held booking a patient; return the demo checkout's path."""
    settings.CAREBOOK_BASE_URL = "http://testserver"
    response = client.post(f"/booking/{token}/details/", PATIENT_FORM)
    return response.url


def test_home_lists_providers_by_specialty_with_formatted_prices(
    client, practice, provider, consultation
):
    cardiologist = make_provider(
        practice, "grace-hopper", "Dr Grace Hopper", specialty="Cardiology"
    )
    Service.objects.create(
        provider=cardiologist, appointment_type=consultation, price_amount=12050
    )
    make_provider(practice, "alan-turing", "Dr Alan Turing")

    response = client.get("/")

    assert response.status_code == 200
    assert [
        (specialty, [p.name for p in providers])
        for specialty, providers in response.context["specialties"]
    ] == [
        ("Cardiology", ["Dr Grace Hopper"]),
        ("General practice", ["Dr Ada Lovelace", "Dr Alan Turing"]),
    ]
    html = response.content.decode()
    assert re.findall(r"<h2>([^<]+)</h2>", html) == ["Cardiology", "General practice"]
    assert re.findall(r'<span class="meta">([^<]+)</span>', html) == [
        "30 min · €120.50",
        "30 min · €80.00",
        "15 min · €45.00",
    ]


def test_slot_picker_shows_the_first_free_times_in_the_practice_zone(
    client, provider, now
):
    response = client.get(picker_url(provider))

    assert response.status_code == 200
    assert slot_labels(response)[:4] == [
        "Monday 7 December 2026 at 10:00",
        "Monday 7 December 2026 at 10:15",
        "Monday 7 December 2026 at 10:30",
        "Monday 7 December 2026 at 10:45",
    ]
    assert (
        "Time zone: <strong>Europe/Dublin (Irish Time)</strong>"
        in response.content.decode()
    )


def test_slot_picker_shifts_the_times_into_the_chosen_zone(client, provider, now):
    response = client.get(picker_url(provider), {"tz": "America/New_York"})

    assert response.status_code == 200
    assert slot_labels(response)[:4] == [
        "Monday 7 December 2026 at 05:00",
        "Monday 7 December 2026 at 05:15",
        "Monday 7 December 2026 at 05:30",
        "Monday 7 December 2026 at 05:45",
    ]
    html = response.content.decode()
    assert "Time zone: <strong>America/New_York (Eastern Time)</strong>" in html
    assert '<input type="hidden" name="timezone" value="America/New_York">' in html


def test_hold_creates_a_held_booking_and_redirects_to_the_details_form(
    client, provider, now
):
    journey = client.get(picker_url(provider)).context["journey"]
    now.shift(timedelta(minutes=3))
    quarter_past = TEN + timedelta(minutes=15)  # 10:00 is now under 2 hours away

    response = client.post(
        hold_url(provider), hold_form(start=quarter_past, journey=journey)
    )

    booking = Booking.objects.get()
    assert response.status_code == 302
    assert response.url.startswith("/booking/")
    assert response.url.endswith("/details/")
    token = response.url.removeprefix("/booking/").removesuffix("/details/")
    assert services.find_booking_by_token(token) == booking
    assert booking.status == Booking.Status.HELD
    assert booking.source == Booking.Source.WEB
    assert booking.start == quarter_past
    assert booking.patient_timezone == "Europe/Dublin"
    assert booking.picker_opened_at == MONDAY_MORNING
    assert booking.held_at == MONDAY_MORNING + timedelta(minutes=3)


def test_hold_with_a_tampered_journey_records_no_picker_time(client, provider, now):
    journey = client.get(picker_url(provider)).context["journey"]

    response = client.post(hold_url(provider), hold_form(journey=journey + "x"))

    assert response.status_code == 302
    booking = Booking.objects.get()
    assert booking.picker_opened_at is None
    assert booking.held_at == MONDAY_MORNING


def test_holding_a_taken_slot_rerenders_the_picker_with_409(
    client, provider, consultation, now
):
    taken = services.hold_slot(
        provider=provider,
        appointment_type=consultation,
        start=TEN,
        patient_timezone="Europe/Dublin",
        source=Booking.Source.API,
        actor=PATIENT,
    ).booking

    response = client.post(hold_url(provider), hold_form(zone="America/New_York"))

    assert response.status_code == 409
    html = response.content.decode()
    assert (
        '<p class="error" role="alert">'
        "Sorry, that time is no longer available. Please choose another.</p>"
    ) in html
    # Shown again in the zone the patient was using, without the taken time.
    assert slot_labels(response)[:2] == [
        "Monday 7 December 2026 at 05:45",
        "Monday 7 December 2026 at 06:00",
    ]
    assert list(Booking.objects.all()) == [taken]


def test_details_form_without_email_gets_422_and_changes_nothing(client, token):
    response = client.post(f"/booking/{token}/details/", {**PATIENT_FORM, "email": ""})

    assert response.status_code == 422
    assert response.context["form"].errors == {"email": ["This field is required."]}
    assert '<p class="error" role="alert">This field is required.</p>' in (
        response.content.decode()
    )
    booking = Booking.objects.get()
    assert (booking.status, booking.patient_name, booking.patient_email) == (
        Booking.Status.HELD,
        "",
        "",
    )
    assert not Payment.objects.exists()


def test_details_form_with_invalid_email_gets_422_and_changes_nothing(client, token):
    response = client.post(
        f"/booking/{token}/details/", {**PATIENT_FORM, "email": "zoe@"}
    )

    assert response.status_code == 422
    assert response.context["form"].errors == {
        "email": ["Enter a valid email address."]
    }
    booking = Booking.objects.get()
    assert (booking.status, booking.patient_name, booking.patient_email) == (
        Booking.Status.HELD,
        "",
        "",
    )
    assert not Payment.objects.exists()


def test_valid_details_redirect_to_the_demo_checkout(client, token):
    response = client.post(f"/booking/{token}/details/", PATIENT_FORM)

    booking = Booking.objects.get()
    payment = Payment.objects.get()
    assert response.status_code == 302
    assert response.url == f"/pay/demo/{payment.checkout_token}/"
    assert booking.status == Booking.Status.PENDING_PAYMENT
    assert (booking.patient_name, booking.patient_email) == (
        "Zoë Ní Bhriain",
        "zoe@example.ie",
    )
    assert (payment.status, payment.amount, payment.currency) == (
        Payment.Status.PENDING,
        8000,
        "EUR",
    )


def test_declined_card_gets_402_and_records_the_reason(client, checkout_path):
    response = client.post(checkout_path, DECLINED_CARD)

    assert response.status_code == 402
    assert (
        "Your card was declined (card declined). Please try another card."
        in response.content.decode()
    )
    attempt = PaymentAttempt.objects.get()
    assert (attempt.outcome, attempt.decline_reason) == (
        PaymentAttempt.Outcome.DECLINED,
        "card_declined",
    )
    assert Payment.objects.get().status == Payment.Status.PENDING
    assert Booking.objects.get().status == Booking.Status.PENDING_PAYMENT


def test_paying_after_a_decline_confirms_the_booking(client, token, checkout_path, now):
    client.post(checkout_path, DECLINED_CARD)
    now.shift(timedelta(minutes=2))

    response = client.post(checkout_path, PAID_CARD)

    booking = Booking.objects.get()
    assert response.status_code == 302
    assert response.url == f"http://testserver/booking/{token}/"
    assert booking.status == Booking.Status.CONFIRMED
    assert booking.confirmed_at == MONDAY_MORNING + timedelta(minutes=2)
    assert booking.hold_expires_at is None
    assert [a.outcome for a in PaymentAttempt.objects.order_by("pk")] == [
        PaymentAttempt.Outcome.DECLINED,
        PaymentAttempt.Outcome.SUCCEEDED,
    ]

    page = client.get(f"/booking/{token}/")

    html = page.content.decode()
    assert page.status_code == 200
    assert "<h1>Your appointment is booked</h1>" in html
    assert f'<strong id="reference">{booking.reference}</strong>' in html


def test_unknown_token_gets_404(client, provider, now):
    booking_page = client.get("/booking/no-such-token/")
    details_form = client.get("/booking/no-such-token/details/")
    details_post = client.post("/booking/no-such-token/details/", PATIENT_FORM)

    assert booking_page.status_code == 404
    assert details_form.status_code == 404
    assert details_post.status_code == 404


def test_get_on_the_hold_address_gets_405(client, provider, now):
    response = client.get(hold_url(provider))

    assert response.status_code == 405
    assert not Booking.objects.exists()


def test_hold_without_csrf_token_is_refused(provider, now):
    client = Client(enforce_csrf_checks=True)
    client.get(picker_url(provider))  # sets the CSRF cookie, as a browser would

    response = client.post(hold_url(provider), hold_form())

    assert response.status_code == 403
    assert not Booking.objects.exists()


def test_prices_follow_the_browsers_locale(client, provider):
    german = client.get("/", HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9").content.decode()
    unknown = client.get("/", HTTP_ACCEPT_LANGUAGE="xx-YY").content.decode()

    assert "30 min · 80,00\xa0€" in german
    assert "30 min · €80.00" in unknown


def test_an_expired_card_is_refused_and_the_payment_stays_open(client, checkout_path):
    payment = Payment.objects.get()

    # "Now" is 7 December 2026: a card valid through November has expired.
    response = client.post(checkout_path, {**PAID_CARD, "expiry": "11/26"})

    assert response.status_code == 200
    assert response.context["form"].errors["expiry"] == ["This card has expired."]
    payment.refresh_from_db()
    assert (payment.status, payment.attempts.count()) == ("pending", 0)
