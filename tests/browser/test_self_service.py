"""A patient moves their appointment from the link in their email."""

import re
from datetime import datetime

import pytest
from playwright.sync_api import expect

from carebook.bookings.models import Booking
from tests.browser.test_booking_flow import book_first_free_slot

MANAGE_LINK = re.compile(r"(http://\S+/booking/[\w-]+/)")


def text_of(message) -> str:
    body = message.get_body(preferencelist=("plain",))
    return body.get_content()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_patient_moves_the_booking_from_the_link_in_the_email(
    page, live_server, settings, smtp_server, jobs, round_the_clock_provider
):
    settings.CAREBOOK_BASE_URL = live_server.url
    provider = round_the_clock_provider
    first_start = book_first_free_slot(page, live_server.url, provider)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Your appointment is booked"
    )
    jobs.run()
    [confirmation] = [
        message
        for message in smtp_server.messages
        if message["To"] == "zoe@example.ie" and "is confirmed" in message["Subject"]
    ]
    link = MANAGE_LINK.search(text_of(confirmation)).group(1)

    page.goto(link)
    page.get_by_role("link", name="Choose another time").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose another time")
    new_slot = page.locator("button.slot").nth(1)
    new_start = datetime.fromisoformat(
        new_slot.locator("xpath=ancestor::form")
        .locator("input[name=start]")
        .input_value()
    )
    new_slot.click()

    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Your appointment is booked"
    )
    [booking] = Booking.objects.all()
    assert (booking.status, booking.start, booking.sequence) == (
        Booking.Status.CONFIRMED,
        new_start,
        1,
    )
    assert new_start != first_start
    jobs.run()
    reference = booking.reference
    assert sorted(
        message["Subject"]
        for message in smtp_server.messages
        if message["To"] == "zoe@example.ie"
    ) == [
        f"Receipt for your payment to Riverside Clinic ({reference})",
        f"Your appointment with Dr Rowan Byrne has a new time ({reference})",
        f"Your appointment with Dr Rowan Byrne is confirmed ({reference})",
    ]
