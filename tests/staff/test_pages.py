"""Provider and front-desk pages: schedule, desk bookings, marks, hours.

"Now" is Monday 7 December 2026, 08:00 in Dublin (UTC in winter). Ada and
Grace work weekdays 09:00–12:30 and 13:30–17:00.
"""

import re
from datetime import UTC, date, datetime, time, timedelta
from html.parser import HTMLParser

import pytest
from django.test import Client

from carebook.audit.models import AuditEntry
from carebook.bookings.availability import find_free_slots
from carebook.bookings.models import Booking
from carebook.notifications.models import OutboxMessage
from carebook.practice.models import DateOverride, TimeOff, WeeklyHours
from carebook.scheduling import Interval
from tests.conftest import MONDAY_MORNING
from tests.factories import make_booking

TUESDAY_TEN = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
TUESDAY_TEN_TEXT = "2026-12-08T10:00:00+00:00"
PAGES = ["/staff/schedule/", "/staff/book/", "/staff/hours/"]


def utc(day, hour, minute=0):
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def desk_booking(client, provider, start=TUESDAY_TEN_TEXT, plan="desk", **fields):
    service = provider.services.get(appointment_type__slug="consultation")
    return client.post(
        "/staff/book/",
        {
            "service": service.pk,
            "day": "2026-12-08",
            "start": start,
            "name": "Zoë Ní Bhriain",
            "email": "zoe@example.ie",
            "phone": "+353 1 555 0101",
            "payment_plan": plan,
            **fields,
        },
    )


@pytest.fixture(autouse=True)
def base_url(settings):
    settings.CAREBOOK_BASE_URL = "http://testserver"
    settings.STRIPE_SECRET_KEY = ""


# Who may do what.


@pytest.mark.parametrize("address", PAGES)
def test_someone_not_logged_in_is_sent_to_the_login(client, users, address):
    response = client.get(address)

    assert (response.status_code, response["Location"]) == (
        302,
        f"/admin/login/?next={address}",
    )


@pytest.mark.parametrize("address", PAGES)
def test_a_user_without_a_staff_role_is_refused(users, address):
    assert logged_in(users["outsider"]).get(address).status_code == 403


def test_an_outsider_cannot_book_and_nothing_is_made(users, provider, now):
    response = desk_booking(logged_in(users["outsider"]), provider)

    assert response.status_code == 403
    assert Booking.objects.count() == 0
    assert AuditEntry.objects.count() == 0


def test_a_provider_is_refused_another_providers_booking_and_hours(
    users, provider, grace, consultation, now
):
    other = make_booking(grace, consultation, TUESDAY_TEN)
    ada = logged_in(users["ada"])

    shown = ada.get(f"/staff/bookings/{other.reference}/")
    cancelled = ada.post(f"/staff/bookings/{other.reference}/cancel/")
    hours = ada.get(f"/staff/hours/{grace.pk}/")
    changed = ada.post(
        f"/staff/hours/{grace.pk}/weekly/",
        {"hours-TOTAL_FORMS": "0", "hours-INITIAL_FORMS": "0"},
    )

    assert [r.status_code for r in (shown, cancelled, hours, changed)] == [
        403,
        403,
        403,
        403,
    ]
    other.refresh_from_db()
    assert other.status == Booking.Status.CONFIRMED
    assert WeeklyHours.objects.filter(provider=grace).count() == 10
    assert AuditEntry.objects.count() == 0


def test_a_provider_sees_only_their_own_schedule(
    users, provider, grace, consultation, now
):
    make_booking(provider, consultation, TUESDAY_TEN, patient_name="Own Patient")
    make_booking(grace, consultation, TUESDAY_TEN, patient_name="Other Patient")

    page = logged_in(users["ada"]).get(
        "/staff/schedule/", {"day": "2026-12-08", "provider": grace.pk}
    )

    assert [b.patient_name for _, day in page.context["days"] for b in day] == [
        "Own Patient"
    ]
    assert "Other Patient" not in page.content.decode()


# The schedule.


def test_the_day_shows_every_providers_bookings_in_the_practice_zone(
    users, provider, grace, consultation, follow_up, now
):
    make_booking(grace, consultation, utc(8, 14), patient_name="Aoife Byrne")
    make_booking(provider, consultation, utc(8, 9), patient_name="Zoë Ní Bhriain")
    make_booking(
        provider,
        follow_up,
        utc(8, 11),
        patient_name="Cancelled Patient",
        status=Booking.Status.CANCELLED,
    )
    make_booking(provider, consultation, utc(8, 15), status=Booking.Status.EXPIRED)
    make_booking(provider, consultation, utc(9, 9), patient_name="Next Day")

    page = logged_in(users["desk"]).get("/staff/schedule/", {"day": "2026-12-08"})

    [(day, bookings)] = page.context["days"]
    assert day == date(2026, 12, 8)
    assert [
        (b.start.astimezone(UTC).hour, b.provider.name, b.patient_name, b.status)
        for b in bookings
    ] == [
        (9, "Dr Ada Lovelace", "Zoë Ní Bhriain", "confirmed"),
        (11, "Dr Ada Lovelace", "Cancelled Patient", "cancelled"),
        (14, "Dr Grace Hopper", "Aoife Byrne", "confirmed"),
    ]
    assert "<td>09:00–09:30</td>" in page.content.decode()


def test_the_week_runs_from_monday_to_sunday(users, provider, consultation, now):
    make_booking(provider, consultation, utc(7, 16), patient_name="Monday")
    make_booking(provider, consultation, utc(11, 9), patient_name="Friday")
    make_booking(provider, consultation, utc(14, 9), patient_name="Next Monday")

    page = logged_in(users["desk"]).get(
        "/staff/schedule/", {"day": "2026-12-09", "view": "week"}
    )

    days = page.context["days"]
    assert [day for day, _ in days] == [date(2026, 12, n) for n in range(7, 14)]
    assert [(day.day, [b.patient_name for b in shown]) for day, shown in days] == [
        (7, ["Monday"]),
        (8, []),
        (9, []),
        (10, []),
        (11, ["Friday"]),
        (12, []),
        (13, []),
    ]


def test_a_bad_day_in_the_address_shows_today(users, now):
    page = logged_in(users["desk"]).get("/staff/schedule/", {"day": "someday"})

    assert page.status_code == 200
    assert page.context["day"] == date(2026, 12, 7)


# Booking for a patient.


def test_the_desk_sees_the_free_times_of_a_day(users, provider, consultation, now):
    make_booking(provider, consultation, TUESDAY_TEN)
    service = provider.services.get(appointment_type=consultation)

    page = logged_in(users["desk"]).get(
        "/staff/book/", {"service": service.pk, "day": "2026-12-08"}
    )

    starts = [
        slot.start.astimezone(UTC).strftime("%H:%M") for slot in page.context["slots"]
    ]
    # 10:00 is taken, with its ten minutes of buffer after.
    assert starts[:4] == ["09:00", "09:15", "10:45", "11:00"]
    assert page.context["form"].errors == {}


def test_a_day_without_free_times_links_to_the_next_one(users, provider, now):
    service = provider.services.get(appointment_type__slug="consultation")

    page = logged_in(users["desk"]).get(
        "/staff/book/", {"service": service.pk, "day": "2026-12-12"}
    )

    assert page.context["slots"] == []
    assert (
        f'The next is <a href="?service={service.pk}&amp;day=2026-12-14">Monday '
        "14 December at 09:00</a>." in page.content.decode()
    )
    assert 'value="desk" required id="id_payment_plan_2" checked' in (
        page.content.decode()
    )


def test_a_desk_booking_paid_at_the_desk_is_confirmed_at_once(
    users, provider, now, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = desk_booking(logged_in(users["desk"]), provider)

    booking = Booking.objects.get()
    assert (response.status_code, response["Location"]) == (
        302,
        f"/staff/bookings/{booking.reference}/",
    )
    assert (
        booking.status,
        booking.source,
        booking.payment_plan,
        booking.start,
        booking.patient_phone,
    ) == ("confirmed", "staff", "desk", TUESDAY_TEN, "+353 1 555 0101")
    assert booking.payments.count() == 0
    confirmation = OutboxMessage.objects.get(template="booking_confirmed")
    assert "To pay: €80.00, at the desk" in confirmation.body_text
    entry = AuditEntry.objects.get(action="booking.confirmed")
    assert (entry.actor_kind, entry.actor_user) == ("staff", users["desk"])


def test_a_desk_booking_to_pay_now_waits_for_the_card_page(users, provider, now):
    client = logged_in(users["desk"])

    response = desk_booking(client, provider, plan="online")

    booking = Booking.objects.get()
    payment = booking.payments.get()
    assert (booking.status, payment.status, payment.amount) == (
        "pending_payment",
        "pending",
        8000,
    )
    page = client.get(response["Location"]).content.decode()
    assert f'href="/pay/demo/{payment.checkout_token}/" id="payment-link"' in page


def test_a_desk_booking_paid_later_is_paid_from_the_patients_link(
    users, provider, now, django_capture_on_commit_callbacks, jobs
):
    with django_capture_on_commit_callbacks(execute=True):
        desk_booking(logged_in(users["desk"]), provider, plan="later")
    booking = Booking.objects.get()
    patient = Client()
    link = f"/booking/{booking.token}/"

    shown = patient.get(link).content.decode()
    opened = patient.post(f"{link}pay/")
    payment = booking.payments.get()
    with django_capture_on_commit_callbacks(execute=True):
        paid = patient.post(
            f"/pay/demo/{payment.checkout_token}/",
            {"card_number": "4242 4242 4242 4242", "expiry": "12/30", "cvc": "123"},
        )

    assert "€80.00 is still to pay: online now, or at the desk on the day." in shown
    assert opened["Location"] == f"/pay/demo/{payment.checkout_token}/"
    assert paid["Location"] == f"http://testserver{link}"
    booking.refresh_from_db()
    payment.refresh_from_db()
    assert (booking.status, payment.status) == ("confirmed", "succeeded")
    assert list(
        OutboxMessage.objects.order_by("id").values_list("template", flat=True)
    ) == ["booking_confirmed", "reminder", "payment_receipt"]
    assert "Pay online now" not in patient.get(link).content.decode()


def test_a_desk_booking_of_a_taken_time_is_refused_and_makes_nothing(
    users, provider, consultation, now
):
    make_booking(provider, consultation, TUESDAY_TEN)

    response = desk_booking(logged_in(users["desk"]), provider)

    assert response.status_code == 409
    assert "That time is not available to book." in response.content.decode()
    assert Booking.objects.count() == 1


def test_a_desk_booking_without_a_name_or_a_time_names_the_fields(users, provider, now):
    response = desk_booking(logged_in(users["desk"]), provider, name="", start="")

    assert response.status_code == 422
    errors = response.context["form"].errors
    assert (errors["name"], errors["start"]) == (
        ["This field is required."],
        ["Choose a time."],
    )
    assert Booking.objects.count() == 0


def test_a_provider_can_book_only_their_own_services(users, provider, grace, now):
    response = desk_booking(logged_in(users["ada"]), grace)

    assert response.status_code == 422
    assert response.context["form"].errors["service"] == [
        "Select a valid choice. That choice is not one of the available choices."
    ]
    assert Booking.objects.count() == 0


# Arrivals, completions and no-shows.


@pytest.fixture
def tuesdays_booking(provider, consultation):
    return make_booking(
        provider,
        consultation,
        TUESDAY_TEN,
        patient_name="Zoë Ní Bhriain",
        patient_email="zoe@example.ie",
    )


def test_the_desk_marks_an_arrival_on_the_day(users, tuesdays_booking, now):
    now.move_to(utc(8, 9, 55))
    client = logged_in(users["desk"])
    address = f"/staff/bookings/{tuesdays_booking.reference}/"

    response = client.post(f"{address}arrived/")
    again = client.post(f"{address}arrived/")

    tuesdays_booking.refresh_from_db()
    assert (response.status_code, again.status_code) == (302, 302)
    assert tuesdays_booking.arrived_at == utc(8, 9, 55)
    assert AuditEntry.objects.filter(action="booking.arrived").count() == 1
    assert "arrived 09:55" in client.get(address).content.decode()


def test_an_arrival_the_day_before_is_refused_with_the_reason(
    users, tuesdays_booking, now
):
    client = logged_in(users["desk"])
    address = f"/staff/bookings/{tuesdays_booking.reference}/"

    response = client.post(f"{address}arrived/", follow=True)

    assert (
        f"{tuesdays_booking.reference}: Arrivals are taken on the day of the "
        "appointment." in response.content.decode()
    )
    tuesdays_booking.refresh_from_db()
    assert tuesdays_booking.arrived_at is None
    assert AuditEntry.objects.count() == 0


def test_the_desk_marks_a_no_show_once_the_appointment_has_started(
    users, tuesdays_booking, now
):
    client = logged_in(users["desk"])
    address = f"/staff/bookings/{tuesdays_booking.reference}/no-show/"

    early = client.post(address, follow=True)
    tuesdays_booking.refresh_from_db()
    status_before = tuesdays_booking.status
    now.move_to(utc(8, 10, 20))
    client.post(address)

    assert "The appointment has not started yet." in early.content.decode()
    assert status_before == "confirmed"
    tuesdays_booking.refresh_from_db()
    assert tuesdays_booking.status == "no_show"
    entry = AuditEntry.objects.get(action="booking.no_show")
    assert (entry.actor_user, entry.changes) == (
        users["desk"],
        {"from": "confirmed", "to": "no_show"},
    )


def test_a_get_on_a_mark_address_changes_nothing(users, tuesdays_booking, now):
    now.move_to(utc(8, 10, 20))

    response = logged_in(users["desk"]).get(
        f"/staff/bookings/{tuesdays_booking.reference}/no-show/"
    )

    assert response.status_code == 405
    tuesdays_booking.refresh_from_db()
    assert tuesdays_booking.status == "confirmed"


def test_staff_changes_need_the_csrf_token(users, tuesdays_booking, now):
    now.move_to(utc(8, 10, 20))
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(users["desk"])

    response = browser.post(f"/staff/bookings/{tuesdays_booking.reference}/no-show/")

    assert response.status_code == 403
    tuesdays_booking.refresh_from_db()
    assert tuesdays_booking.status == "confirmed"


def test_an_unknown_action_is_not_found(users, tuesdays_booking):
    response = logged_in(users["desk"]).post(
        f"/staff/bookings/{tuesdays_booking.reference}/delete/"
    )

    assert response.status_code == 404


def test_the_desk_moves_a_booking_to_another_free_time(
    users, tuesdays_booking, now, django_capture_on_commit_callbacks
):
    client = logged_in(users["desk"])
    address = f"/staff/bookings/{tuesdays_booking.reference}/move/"

    shown = client.get(address, {"day": "2026-12-09"})
    with django_capture_on_commit_callbacks(execute=True):
        moved = client.post(address, {"start": "2026-12-09T14:00:00+00:00"})

    starts = [slot.start for slot in shown.context["slots"]]
    assert starts[:2] == [utc(9, 9), utc(9, 9, 15)]
    assert moved["Location"] == f"/staff/bookings/{tuesdays_booking.reference}/"
    tuesdays_booking.refresh_from_db()
    assert (tuesdays_booking.start, tuesdays_booking.sequence) == (utc(9, 14), 1)
    entry = AuditEntry.objects.get(action="booking.rescheduled")
    assert (entry.actor_user, entry.changes) == (
        users["desk"],
        {"from": "2026-12-08T10:00:00+00:00", "to": "2026-12-09T14:00:00+00:00"},
    )
    assert OutboxMessage.objects.filter(template="booking_rescheduled").count() == 1


def test_a_move_to_a_taken_time_is_refused_and_keeps_the_booking(
    users, provider, consultation, tuesdays_booking, now
):
    make_booking(provider, consultation, utc(9, 14))

    response = logged_in(users["desk"]).post(
        f"/staff/bookings/{tuesdays_booking.reference}/move/",
        {"start": "2026-12-09T14:00:00+00:00"},
    )

    assert response.status_code == 409
    assert "That time is not available to book." in response.content.decode()
    tuesdays_booking.refresh_from_db()
    assert (tuesdays_booking.start, tuesdays_booking.sequence) == (TUESDAY_TEN, 0)


def test_a_provider_cannot_move_another_providers_booking(
    users, grace, consultation, now
):
    other = make_booking(grace, consultation, TUESDAY_TEN)

    response = logged_in(users["ada"]).post(
        f"/staff/bookings/{other.reference}/move/",
        {"start": "2026-12-09T14:00:00+00:00"},
    )

    assert response.status_code == 403
    other.refresh_from_db()
    assert other.start == TUESDAY_TEN


# Weekly hours, single dates and time off.


def tuesday_consultations(provider, consultation):
    window = Interval(utc(8, 0), utc(9, 0))
    return [
        slot.start.astimezone(UTC).strftime("%H:%M")
        for slot in find_free_slots(provider, consultation, window)
    ]


def weekly_post(rows):
    data = {"hours-TOTAL_FORMS": str(len(rows)), "hours-INITIAL_FORMS": "0"}
    for number, (weekday, start, end, delete) in enumerate(rows):
        data |= {
            f"hours-{number}-weekday": weekday,
            f"hours-{number}-start_time": start,
            f"hours-{number}-end_time": end,
        }
        if delete:
            data[f"hours-{number}-DELETE"] = "on"
    return data


def test_the_desk_replaces_weekly_hours(users, provider, consultation, now):
    response = logged_in(users["desk"]).post(
        f"/staff/hours/{provider.pk}/weekly/",
        weekly_post(
            [
                ("1", "14:00", "15:00", False),
                ("2", "09:00", "17:00", False),
                ("3", "09:00", "10:00", True),
                ("", "", "", False),
            ]
        ),
    )

    assert response.status_code == 302
    assert list(
        WeeklyHours.objects.filter(provider=provider).values_list(
            "weekday", "start_time", "end_time"
        )
    ) == [(1, time(14), time(15)), (2, time(9), time(17))]
    assert tuesday_consultations(provider, consultation) == ["14:00", "14:15", "14:30"]
    entry = AuditEntry.objects.get(action="provider.hours_changed")
    assert entry.changes["to"] == ["1 14:00-15:00", "2 09:00-17:00"]


def test_bad_weekly_hours_keep_the_old_ones(users, provider, now):
    response = logged_in(users["desk"]).post(
        f"/staff/hours/{provider.pk}/weekly/",
        weekly_post([("1", "9am", "15:00", False), ("8", "09:00", "10:00", False)]),
    )

    assert response.status_code == 422
    forms = response.context["weekly"].forms
    assert forms[0].errors["start_time"] == ["Enter a valid time."]
    assert forms[1].errors["weekday"] == [
        "Select a valid choice. 8 is not one of the available choices."
    ]
    assert WeeklyHours.objects.filter(provider=provider).count() == 10
    assert AuditEntry.objects.count() == 0


def test_time_off_blocks_slots_and_names_the_bookings_inside_it(
    users, provider, consultation, tuesdays_booking, now
):
    client = logged_in(users["ada"])

    response = client.post(
        f"/staff/hours/{provider.pk}/time-off/",
        {
            "off-start_day": "2026-12-08",
            "off-start_time": "09:00",
            "off-end_day": "2026-12-08",
            "off-end_time": "12:30",
            "off-reason": "Training",
        },
        follow=True,
    )

    [time_off] = TimeOff.objects.all()
    assert (time_off.start, time_off.end, time_off.reason) == (
        utc(8, 9),
        utc(8, 12, 30),
        "Training",
    )
    assert tuesday_consultations(provider, consultation)[0] == "13:30"
    assert (
        "These bookings fall in the time off and stay booked until moved or "
        f"cancelled: {tuesdays_booking.reference}." in response.content.decode()
    )
    tuesdays_booking.refresh_from_db()
    assert tuesdays_booking.status == "confirmed"


def test_time_off_in_summer_time_is_read_on_the_providers_wall_clock(
    users, provider, now
):
    logged_in(users["desk"]).post(
        f"/staff/hours/{provider.pk}/time-off/",
        {
            "off-start_day": "2027-03-29",
            "off-start_time": "09:00",
            "off-end_day": "2027-03-29",
            "off-end_time": "10:00",
        },
    )

    # Dublin is on UTC+1 after 28 March 2027.
    assert list(TimeOff.objects.values_list("start", "end")) == [
        (
            datetime(2027, 3, 29, 8, 0, tzinfo=UTC),
            datetime(2027, 3, 29, 9, 0, tzinfo=UTC),
        )
    ]


def test_time_off_that_ends_before_it_starts_is_refused(users, provider, now):
    response = logged_in(users["desk"]).post(
        f"/staff/hours/{provider.pk}/time-off/",
        {
            "off-start_day": "2026-12-08",
            "off-start_time": "12:00",
            "off-end_day": "2026-12-08",
            "off-end_time": "09:00",
        },
    )

    assert response.status_code == 422
    assert response.context["time_off_form"].errors["end_time"] == [
        "Time off must end after it starts."
    ]
    assert TimeOff.objects.count() == 0


def test_removing_time_off_frees_its_slots(users, provider, consultation, now):
    time_off = TimeOff.objects.create(provider=provider, start=utc(8, 0), end=utc(9, 0))

    logged_in(users["desk"]).post(
        f"/staff/hours/{provider.pk}/time-off/{time_off.pk}/remove/"
    )

    assert TimeOff.objects.count() == 0
    assert tuesday_consultations(provider, consultation)[:2] == ["09:00", "09:15"]
    assert AuditEntry.objects.filter(action="provider.time_off_removed").count() == 1


def test_a_date_can_be_closed_and_opened_again(users, provider, consultation, now):
    client = logged_in(users["desk"])

    client.post(
        f"/staff/hours/{provider.pk}/dates/",
        {"date-date": "2026-12-08", "date-is_closed": "on"},
    )
    closed = tuesday_consultations(provider, consultation)
    client.post(f"/staff/hours/{provider.pk}/dates/2026-12-08/clear/")

    assert closed == []
    assert DateOverride.objects.count() == 0
    assert tuesday_consultations(provider, consultation)[:2] == ["09:00", "09:15"]


def test_a_date_with_hours_replaces_its_weekly_hours(
    users, provider, consultation, now
):
    logged_in(users["desk"]).post(
        f"/staff/hours/{provider.pk}/dates/",
        {
            "date-date": "2026-12-08",
            "date-start_time": "18:00",
            "date-end_time": "19:00",
        },
    )

    assert tuesday_consultations(provider, consultation) == ["18:00", "18:15", "18:30"]


def test_a_date_without_hours_or_closed_names_the_fields(users, provider, now):
    response = logged_in(users["desk"]).post(
        f"/staff/hours/{provider.pk}/dates/", {"date-date": "2026-12-08"}
    )

    assert response.status_code == 422
    assert response.context["date_form"].errors == {
        "start_time": ["Give the hours, or mark the day closed."],
        "end_time": ["Give the hours, or mark the day closed."],
    }
    assert DateOverride.objects.count() == 0


def test_wider_hours_offer_the_new_time_to_the_waitlist(
    users, provider, consultation, now, jobs, django_capture_on_commit_callbacks
):
    from carebook.waitlist.models import WaitlistEntry, WaitlistOffer

    DateOverride.objects.create(provider=provider, date=date(2026, 12, 8))
    WaitlistEntry.objects.create(
        provider=provider,
        appointment_type=consultation,
        first_day=date(2026, 12, 8),
        last_day=date(2026, 12, 8),
        patient_name="Zoë Ní Bhriain",
        patient_email="zoe@example.ie",
        email_key="zoe@example.ie",
        patient_timezone="Europe/Dublin",
        token_hash="x" * 64,
        token_salt="y",
        joined_at=MONDAY_MORNING - timedelta(days=1),
    )

    with django_capture_on_commit_callbacks(execute=True):
        logged_in(users["desk"]).post(
            f"/staff/hours/{provider.pk}/dates/2026-12-08/clear/"
        )
    jobs.run()

    assert list(WaitlistOffer.objects.values_list("start", "status")) == [
        (utc(8, 9), "open")
    ]


def test_time_off_across_the_spring_gap_is_checked_as_instants(users, provider, now):
    # 29 March 2026: Dublin's clocks jump from 01:00 to 02:00, so 01:50 is
    # 01:50 UTC and 02:10 is 01:10 UTC, before it.
    response = logged_in(users["desk"]).post(
        f"/staff/hours/{provider.pk}/time-off/",
        {
            "off-start_day": "2026-03-29",
            "off-start_time": "01:50",
            "off-end_day": "2026-03-29",
            "off-end_time": "02:10",
        },
    )

    assert response.status_code == 422
    assert response.context["time_off_form"].errors["end_time"] == [
        "Time off must end after it starts."
    ]
    assert TimeOff.objects.count() == 0


class FormFields(HTMLParser):
    """Collect what a browser posts for one form of a page: each input's
    value, each select's chosen option (else its first), checked boxes only.
    """

    def __init__(self, action: str):
        super().__init__()
        self.action = action
        self.inside = False
        self.select = None
        self.fields = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("action") == self.action
        elif not self.inside:
            return
        elif tag == "input" and attrs.get("type") != "checkbox":
            self.fields[attrs["name"]] = attrs.get("value", "")
        elif tag == "input" and "checked" in attrs:
            self.fields[attrs["name"]] = attrs.get("value", "on")
        elif tag == "select":
            self.select = attrs["name"]
        elif (
            tag == "option"
            and self.select
            and (self.select not in self.fields or "selected" in attrs)
        ):
            self.fields[self.select] = attrs["value"]

    def handle_endtag(self, tag):
        if tag == "select":
            self.select = None
        elif tag == "form":
            self.inside = False


def test_the_hours_form_saves_as_a_browser_sends_it(users, provider, now):
    client = logged_in(users["desk"])
    address = f"/staff/hours/{provider.pk}/weekly/"
    form = FormFields(address)
    form.feed(client.get(f"/staff/hours/{provider.pk}/").content.decode())
    form.fields["hours-0-end_time"] = "12:00"

    response = client.post(address, form.fields)

    assert response.status_code == 302
    assert list(
        WeeklyHours.objects.filter(provider=provider, weekday=0).values_list(
            "start_time", "end_time"
        )
    ) == [(time(9), time(12)), (time(13, 30), time(17))]
    assert WeeklyHours.objects.filter(provider=provider).count() == 10


def test_hours_past_midnight_are_pointed_out(users, provider, now):
    response = logged_in(users["desk"]).post(
        f"/staff/hours/{provider.pk}/weekly/",
        weekly_post([("6", "09:00", "05:00", False)]),
        follow=True,
    )

    assert (
        "These hours run past midnight into the next day: Sunday 09:00–05:00."
        in response.content.decode()
    )


def test_closing_a_date_names_its_bookings(users, provider, tuesdays_booking, now):
    response = logged_in(users["desk"]).post(
        f"/staff/hours/{provider.pk}/dates/",
        {"date-date": "2026-12-08", "date-is_closed": "on"},
        follow=True,
    )

    page = response.content.decode()
    assert "Hours of Tuesday 8 December 2026 saved." in page
    assert (
        "These bookings are on Tuesday 8 December 2026 and stay booked until "
        f"moved or cancelled: {tuesdays_booking.reference}." in page
    )


def test_the_desk_books_a_patient_who_has_only_a_phone(
    users, provider, now, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = desk_booking(logged_in(users["desk"]), provider, email="")

    assert response.status_code == 302
    booking = Booking.objects.get()
    assert (booking.patient_email, booking.patient_phone) == ("", "+353 1 555 0101")
    assert list(OutboxMessage.objects.values_list("audience", flat=True)) == []


def test_a_desk_booking_needs_an_email_or_a_phone(users, provider, now):
    response = desk_booking(logged_in(users["desk"]), provider, email="", phone="")

    assert response.status_code == 422
    assert response.context["form"].errors["email"] == [
        "Give an email address or a phone number."
    ]
    assert Booking.objects.count() == 0


@pytest.mark.parametrize("phone", ["abc", "12345", "+353 1 555 0101; DROP"])
def test_a_phone_that_is_no_number_is_refused(users, provider, now, phone):
    response = desk_booking(logged_in(users["desk"]), provider, phone=phone)

    assert response.status_code == 422
    assert response.context["form"].errors["phone"] == [
        "Enter a phone number: digits, spaces and + - ( ) . / only."
    ]
    assert Booking.objects.count() == 0


@pytest.mark.parametrize(
    ("moment", "buttons"),
    [
        # The day before: nothing to mark yet.
        (utc(7, 9), []),
        # On the day, before the start: the patient can arrive.
        (utc(8, 9, 50), ["Mark arrived"]),
        # After the start: arrived still, and completed or missed.
        (utc(8, 10, 5), ["Mark arrived", "Mark completed", "Mark no-show"]),
        # After the end: only completed or missed.
        (utc(8, 11), ["Mark completed", "Mark no-show"]),
    ],
)
def test_a_booking_page_offers_the_marks_that_apply_now(
    users, tuesdays_booking, now, moment, buttons
):
    now.move_to(moment)

    page = logged_in(users["desk"]).get(
        f"/staff/bookings/{tuesdays_booking.reference}/"
    )

    shown = re.findall(r">(Mark [a-z-]+)</button>", page.content.decode())
    assert shown == buttons
