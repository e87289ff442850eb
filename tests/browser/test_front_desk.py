"""The front desk books for a patient in a real browser and marks a no-show.

Time runs on its own here, as the live server answers from another thread,
until the test travels to the appointment's start to mark it.
"""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import expect

from carebook.audit.models import AuditEntry
from carebook.bookings.models import Booking
from carebook.staff.models import Role
from carebook.staff.roles import assign_role

DESK_PASSWORD = "a long front desk password"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_front_desk_books_for_a_patient_and_marks_a_no_show(
    page, live_server, settings, practice, round_the_clock_provider
):
    settings.CAREBOOK_BASE_URL = live_server.url
    desk = get_user_model().objects.create_user("desk", password=DESK_PASSWORD)
    assign_role(desk, Role.FRONT_DESK)
    tomorrow = timezone.now().astimezone(
        ZoneInfo(practice.timezone)
    ).date() + timedelta(days=1)

    page.goto(live_server.url + "/staff/book/")
    page.get_by_label("Username").fill("desk")
    page.get_by_label("Password").fill(DESK_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Book for a patient")

    page.get_by_label("Appointment").select_option(
        label="Dr Rowan Byrne: Consultation (30 min, €80.00)"
    )
    page.get_by_label("Day").fill(tomorrow.isoformat())
    page.get_by_role("button", name="Show free times").click()
    first_time = page.locator("input[name=start]").first
    first_time.check()
    chosen_start = first_time.input_value()
    page.get_by_label("Full name").fill("Zoë Ní Bhriain")
    page.get_by_label("Email address").fill("zoe@example.ie")
    page.get_by_label("Phone number").fill("+353 1 555 0100")
    page.get_by_label("At the desk, on the day").check()
    page.get_by_role("button", name="Book", exact=True).click()

    booking = Booking.objects.get()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Booking {booking.reference}"
    )
    expect(page.locator("#status")).to_have_text("Confirmed")
    assert (
        booking.start.isoformat(),
        booking.patient_name,
        booking.source,
        booking.payment_plan,
    ) == (chosen_start, "Zoë Ní Bhriain", "staff", "desk")

    # The patient has not come by ten minutes after the start.
    with time_machine.travel(booking.start + timedelta(minutes=10), tick=True):
        page.reload()
        page.get_by_role("button", name="Mark no-show").click()
        expect(page.locator("#status")).to_have_text("No Show")

    booking.refresh_from_db()
    assert booking.status == Booking.Status.NO_SHOW
    entry = AuditEntry.objects.get(action="booking.no_show")
    assert (entry.actor_kind, entry.actor_user_id) == ("staff", desk.pk)
