"""What patients do besides the straight path: go back, click twice, wait."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from carebook.audit.models import AuditEntry
from carebook.bookings.models import Booking
from carebook.practice.models import AppointmentType, Service
from tests.conftest import make_provider
from tests.web.test_pages import (
    PAID_CARD,
    PATIENT_FORM,
    TEN,
    hold_form,
    hold_url,
    picker_url,
)


def test_clicking_the_same_time_again_returns_to_the_same_hold(client, provider, now):
    first = client.post(hold_url(provider), hold_form())

    again = client.post(hold_url(provider), hold_form())

    assert again.status_code == 302
    assert again.url == first.url
    assert Booking.objects.count() == 1


def test_clicking_another_time_gives_up_the_first_hold(client, provider, now):
    client.post(hold_url(provider), hold_form())

    client.post(hold_url(provider), hold_form(start=TEN + timedelta(hours=1)))

    assert list(Booking.objects.order_by("start").values_list("status", flat=True)) == [
        "expired",
        "held",
    ]
    assert AuditEntry.objects.filter(action="booking.released").count() == 1
    # The given-up time is free again, for anyone.
    assert (
        "Monday 7 December 2026 at 10:00"
        in client.get(picker_url(provider)).content.decode()
    )


def test_second_click_on_continue_goes_to_the_same_payment(
    client, provider, now, settings
):
    settings.CAREBOOK_BASE_URL = "http://testserver"
    details = client.post(hold_url(provider), hold_form()).url

    first = client.post(details, PATIENT_FORM)
    second = client.post(details, PATIENT_FORM)

    assert (first.status_code, second.status_code) == (302, 302)
    assert second.url == first.url
    assert Booking.objects.get().payments.count() == 1


def test_details_page_after_the_hold_lapsed_offers_the_times_again(
    client, provider, now
):
    details = client.post(hold_url(provider), hold_form()).url
    now.shift(timedelta(minutes=10))

    page = client.get(details).content.decode()

    assert "We could no longer hold this time for you." in page
    assert f'href="{picker_url(provider)}?tz=Europe/Dublin"' in page
    assert '<form method="post" class="details"' not in page


def test_checkout_closes_when_the_hold_lapses(client, provider, now, settings):
    settings.CAREBOOK_BASE_URL = "http://testserver"
    details = client.post(hold_url(provider), hold_form()).url
    checkout = client.post(details, PATIENT_FORM).url
    now.shift(timedelta(minutes=30))

    page = client.post(checkout, PAID_CARD)

    assert "This payment has closed" in page.content.decode()
    booking = Booking.objects.get()
    assert booking.status == "pending_payment"
    assert booking.payments.get().status == "pending"


def test_pages_with_a_token_are_never_cached(client, provider, now, settings):
    settings.CAREBOOK_BASE_URL = "http://testserver"
    details = client.post(hold_url(provider), hold_form()).url
    checkout = client.post(details, PATIENT_FORM).url
    booking_page = details.removesuffix("details/")

    for path in (details, checkout, booking_page):
        assert "no-store" in client.get(path)["Cache-Control"], path


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-28", "2026-11-01", "garbage"])
def test_picker_shows_this_week_for_days_it_cannot_show(client, provider, now, day):
    response = client.get(picker_url(provider), {"from": day})

    assert response.status_code == 200
    assert response.context["days"][0][0].isoformat() == "2026-12-07"


def test_picker_stops_offering_later_weeks_at_the_horizon(client, provider, now):
    near = client.get(picker_url(provider), {"from": "2027-01-28"}).content.decode()
    last = client.get(picker_url(provider), {"from": "2027-01-30"}).content.decode()

    assert "Later →" in near
    assert "Later →" not in last
    assert "Bookings open 60 days ahead." in last


def test_hold_with_a_start_without_offset_gets_400(client, provider, now):
    response = client.post(
        hold_url(provider), hold_form() | {"start": "2026-12-07T10:00:00"}
    )

    assert response.status_code == 400
    assert Booking.objects.count() == 0


def test_repeated_times_when_clocks_go_back_name_their_zone(client, practice, now):
    night = AppointmentType.objects.create(
        practice=practice, slug="night", name="Night call", duration_minutes=30
    )
    doctor = make_provider(practice, "owl", "Dr Owl")
    doctor.weekly_hours.all().delete()
    doctor.weekly_hours.create(
        weekday=6, start_time=datetime.min.time(), end_time=datetime(1, 1, 1, 3).time()
    )
    Service.objects.create(provider=doctor, appointment_type=night, price_amount=100)
    practice.horizon_days = 365
    practice.slot_step_minutes = 30
    practice.save()

    # Dublin's clocks go back from 02:00 IST to 01:00 GMT on 31 October 2027.
    response = client.get(picker_url(doctor, "night"), {"from": "2027-10-31"})

    labels = re.findall(
        r'class="slot" aria-label="Sunday 31 October 2027 at ([^"]+)"',
        response.content.decode(),
    )
    assert labels == [
        "00:00",
        "00:30",
        "01:00 IST",
        "01:30 IST",
        "01:00 GMT",
        "01:30 GMT",
        "02:00",
        "02:30",
    ]
    first_one = response.context["days"][0][1][2][0].start
    assert first_one == datetime(2027, 10, 31, 0, 0, tzinfo=UTC)
