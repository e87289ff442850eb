"""A patient books and pays in a real browser; staff then find the booking.

Time is not frozen here: the live server answers from another thread. The
provider works around the clock, so the first free slot is always near.
"""

import re
from datetime import datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from carebook.bookings.models import Booking
from tests.conftest import make_provider
from tests.factories import make_booking

SCREENSHOT = "/tmp/confirmation.png"
STAFF_PASSWORD = "a long staff password"


def book_first_free_slot(page, base_url, provider) -> datetime:
    """Book and pay the provider's first free consultation; return its start."""
    page.goto(base_url + "/")
    page.get_by_role("link", name=provider.name).click()
    page.get_by_role("link", name="Consultation").click()

    first_slot = page.locator("button.slot").first
    slot_form = first_slot.locator("xpath=ancestor::form")
    start = datetime.fromisoformat(slot_form.locator("input[name=start]").input_value())
    first_slot.click()

    page.get_by_label("Full name").fill("Zoë Ní Bhriain")
    page.get_by_label("Email address").fill("zoe@example.ie")
    page.get_by_label("Phone number").fill("+353 1 555 0100")
    page.get_by_role("button", name="Continue to payment").click()

    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_label("Expiry (MM/YY)").fill("12/30")
    page.get_by_label("Security code (CVC)").fill("123")
    page.get_by_role("button", name="Pay €80.00").click()
    return start


def book_directly(provider, consultation, start) -> Booking:
    """Create a confirmed booking without the pages, as staff data would be."""
    return make_booking(
        provider,
        consultation,
        start,
        reference="OTHER234",
        source=Booking.Source.STAFF,
        patient_name="Other Patient",
    )


def admin_bookings_of_day(start, zone_name, provider=None) -> str:
    """Return the admin's booking list for one local day, maybe one provider.

    The day runs from midnight to midnight in the practice's zone, given with
    its UTC offset as the admin's date filter writes it.
    """
    zone = ZoneInfo(zone_name)
    day = start.astimezone(zone).date()
    midnight = datetime.combine(day, time(0), tzinfo=zone)
    next_midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    query = {"start__gte": midnight.isoformat(), "start__lt": next_midnight.isoformat()}
    if provider is not None:
        query["provider__id__exact"] = provider.pk
    return f"/admin/bookings/booking/?{urlencode(query)}"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_patient_books_and_pays_then_staff_find_the_booking(
    page, live_server, settings, practice, consultation, round_the_clock_provider
):
    settings.CAREBOOK_BASE_URL = live_server.url
    provider = round_the_clock_provider

    clicked_start = book_first_free_slot(page, live_server.url, provider)

    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Your appointment is booked"
    )
    shown_reference = page.locator("#reference").inner_text()
    page.screenshot(path=SCREENSHOT, full_page=True)
    booking = Booking.objects.get(provider=provider)
    assert shown_reference == booking.reference
    assert re.fullmatch(r"[2-9A-HJKMNP-Z]{8}", shown_reference)
    assert booking.start == clicked_start
    assert booking.status == Booking.Status.CONFIRMED
    assert booking.patient_email == "zoe@example.ie"

    # Staff look up the day's bookings of this provider only.
    other_provider = make_provider(practice, "alan-turing", "Dr Alan Turing")
    other = book_directly(other_provider, consultation, clicked_start)
    get_user_model().objects.create_superuser(
        "staff", "staff@example.ie", STAFF_PASSWORD
    )
    page.goto(live_server.url + "/admin/login/")
    page.get_by_label("Username").fill("staff")
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Site administration")
    zone_name = practice.timezone

    references = page.locator("#result_list tbody .field-reference")
    page.goto(live_server.url + admin_bookings_of_day(clicked_start, zone_name))
    # Same start: the admin breaks the tie newest first.
    expect(references).to_have_text([other.reference, booking.reference])

    page.goto(
        live_server.url + admin_bookings_of_day(clicked_start, zone_name, provider)
    )

    expect(references).to_have_text([booking.reference])
    expect(page.locator("#result_list")).not_to_contain_text(other.reference)
