"""Bookings pushed to the provider's own calendar over CalDAV.

A real Radicale server holds the calendar. Bookings are made, moved and
cancelled through the booking services; the job queue runs the outbox in
memory when a test says so, and each test reads the calendar back from
Radicale with the caldav library. Time is frozen at Monday 7 December
2026, 08:00 UTC, and travelled explicitly.
"""

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import caldav
import niquests
import pytest
from caldav.lib import error as caldav_errors
from django.db import connection as database
from django.utils import timezone
from icalendar import Calendar

from carebook.audit.models import AuditEntry
from carebook.audit.services import PATIENT, SYSTEM
from carebook.bookings import services
from carebook.bookings.models import Booking
from carebook.calendars.models import CalendarConnection
from carebook.calendars.push import CalendarUnusable, is_permanent
from carebook.calendars.services import (
    connect_calendar,
    disconnect_calendar,
    queue_calendar_push,
)
from carebook.notifications.models import OutboxMessage
from carebook.notifications.outbox import deliver
from carebook.practice.models import AppointmentType, Provider, Service
from carebook.web.links import booking_url
from tests.radicale import PASSWORD, USER

PATIENT_EMAIL = "zoe@example.ie"
WEDNESDAY_ELEVEN = datetime(2026, 12, 9, 11, 0, tzinfo=UTC)
WEDNESDAY_TWO = datetime(2026, 12, 9, 14, 0, tzinfo=UTC)
THURSDAY_TWO = datetime(2026, 12, 10, 14, 0, tzinfo=UTC)
FRIDAY_NINE = datetime(2026, 12, 11, 9, 0, tzinfo=UTC)
Status = OutboxMessage.Status
CALDAV = OutboxMessage.Channel.CALDAV


@pytest.fixture
def clinic(provider, now):
    """Dr Lovelace, offering free consultations, so bookings confirm at once."""
    Service.objects.update(price_amount=0)
    return provider


@pytest.fixture
def connected(clinic, radicale):
    """Connect Dr Lovelace's calendar on the Radicale server."""
    return connect_calendar(clinic, radicale.calendar_url(), USER, PASSWORD, SYSTEM)


@pytest.fixture
def delivered(django_capture_on_commit_callbacks, jobs):
    """Commit what the block does, then let the job queue run what is due."""

    @contextmanager
    def block():
        with django_capture_on_commit_callbacks(execute=True):
            yield
        jobs.run()

    return block


def book(provider, start=WEDNESDAY_ELEVEN, name="Zoë Ní Bhriain") -> Booking:
    """Book a free consultation, confirmed at once; return the booking."""
    held = services.book_slot(
        provider=provider,
        appointment_type=AppointmentType.objects.get(slug="consultation"),
        start=start,
        patient_timezone="Europe/Dublin",
        source=Booking.Source.API,
        actor=PATIENT,
        patient=services.PatientDetails(name, PATIENT_EMAIL),
        return_url_for=booking_url,
    )
    return held.booking


@dataclass(frozen=True)
class StoredEvent:
    """What a calendar program reads of one event on the server."""

    uid: str
    sequence: int
    start: datetime
    summary: str


def calendar_on_server(radicale) -> caldav.Calendar:
    client = caldav.DAVClient(radicale.url, username=USER, password=PASSWORD)
    return client.calendar(url=radicale.calendar_url())


def stored_events(radicale) -> list[StoredEvent]:
    """Return every event in the calendar, read back from Radicale."""
    events = []
    for resource in calendar_on_server(radicale).get_events():
        event = resource.icalendar_component
        events.append(
            StoredEvent(
                str(event["UID"]),
                event.decoded("SEQUENCE"),
                event.decoded("DTSTART").astimezone(UTC),
                str(event["SUMMARY"]),
            )
        )
    return sorted(events, key=lambda event: event.start)


def stored_ics(radicale) -> str:
    [resource] = calendar_on_server(radicale).get_events()
    return resource.data


def uid_of(booking: Booking) -> str:
    return f"booking-{booking.reference.lower()}@carebook"


def pushes() -> list[tuple[str, str, str, int]]:
    """Return the CalDAV outbox rows: booking, template, status, attempts."""
    return list(
        OutboxMessage.objects.filter(channel=CALDAV)
        .order_by("pk")
        .values_list("booking__reference", "template", "status", "attempts")
    )


def connection_state() -> tuple:
    connection = CalendarConnection.objects.get()
    return connection.last_success_at, connection.last_error_at, connection.last_error


# The life of one event.


def test_a_confirmed_booking_appears_with_the_uid_of_the_email_invite(
    connected, delivered, radicale
):
    with delivered():
        booking = book(connected.provider)

    invite = OutboxMessage.objects.get(template="booking_confirmed")
    [invite_event] = Calendar.from_ical(invite.calendar).walk("VEVENT")
    assert str(invite_event["UID"]) == uid_of(booking)
    assert stored_events(radicale) == [
        StoredEvent(
            uid_of(booking),
            0,
            WEDNESDAY_ELEVEN,
            f"Appointment: Z. N. B. ({booking.reference})",
        )
    ]
    assert pushes() == [(booking.reference, "caldav_put", "sent", 1)]
    assert connection_state() == (timezone.now(), None, "")


def test_a_reschedule_moves_the_same_event_and_raises_its_sequence(
    connected, delivered, radicale
):
    with delivered():
        booking = book(connected.provider)

    with delivered():
        services.reschedule_booking(booking, THURSDAY_TWO, PATIENT)

    assert stored_events(radicale) == [
        StoredEvent(
            uid_of(booking),
            1,
            THURSDAY_TWO,
            f"Appointment: Z. N. B. ({booking.reference})",
        )
    ]
    assert pushes() == [
        (booking.reference, "caldav_put", "sent", 1),
        (booking.reference, "caldav_put", "sent", 1),
    ]


def test_a_cancellation_deletes_the_event(connected, delivered, radicale):
    with delivered():
        booking = book(connected.provider)
        book(connected.provider, FRIDAY_NINE, name="Alan Turing")

    with delivered():
        services.cancel_booking(booking, PATIENT)

    assert [event.start for event in stored_events(radicale)] == [FRIDAY_NINE]
    assert pushes()[-1] == (booking.reference, "caldav_delete", "sent", 1)


def test_deleting_an_event_that_is_already_gone_counts_as_done(
    connected, delivered, radicale
):
    with delivered():
        booking = book(connected.provider)
    calendar_on_server(radicale).get_event_by_uid(uid_of(booking)).delete()

    with delivered():
        services.cancel_booking(booking, PATIENT)

    assert stored_events(radicale) == []
    assert pushes()[-1] == (booking.reference, "caldav_delete", "sent", 1)
    assert connection_state() == (timezone.now(), None, "")


def test_a_push_sent_again_overwrites_the_event_instead_of_adding_one(
    connected, delivered, radicale
):
    with delivered():
        booking = book(connected.provider)
    # As if the worker died after the server stored the event.
    push = OutboxMessage.objects.get(channel=CALDAV)
    OutboxMessage.objects.filter(pk=push.pk).update(status=Status.PENDING)

    assert deliver(push.pk) == "sent"

    assert [event.uid for event in stored_events(radicale)] == [uid_of(booking)]


def test_a_late_push_writes_the_booking_as_it_is_now(connected, delivered, radicale):
    with delivered():
        booking = book(connected.provider)
    first_push = OutboxMessage.objects.get(channel=CALDAV)
    with delivered():
        services.reschedule_booking(booking, THURSDAY_TWO, PATIENT)
    with delivered():
        services.cancel_booking(Booking.objects.get(pk=booking.pk), PATIENT)

    # The first push, run again long after, must not bring the event back.
    OutboxMessage.objects.filter(pk=first_push.pk).update(status=Status.PENDING)
    assert deliver(first_push.pk) == "sent"

    assert stored_events(radicale) == []


# The event tells the calendar service as little as it can.


def test_the_event_has_no_clinical_detail_and_no_full_name(
    connected, delivered, radicale
):
    AppointmentType.objects.filter(slug="consultation").update(
        name="Chemotherapy review"
    )
    Provider.objects.filter(pk=connected.provider_id).update(specialty="Oncology")

    with delivered():
        booking = book(connected.provider)

    ics = stored_ics(radicale)
    [event] = Calendar.from_ical(ics).walk("VEVENT")
    assert str(event["SUMMARY"]) == f"Appointment: Z. N. B. ({booking.reference})"
    assert str(event["LOCATION"]) == "Riverside Clinic"
    for secret in [
        "Chemotherapy",
        "Oncology",
        "Zoë",
        "Bhriain",
        PATIENT_EMAIL,
        booking.token,
    ]:
        assert secret not in ics
    assert "METHOD" not in Calendar.from_ical(ics)
    assert ("ATTENDEE" in event, "ORGANIZER" in event) == (False, False)


# Failures: visible to staff, never a crash.


def test_a_wrong_password_fails_visibly_and_leaves_the_booking_alone(
    clinic, radicale, delivered, jobs
):
    connect_calendar(clinic, radicale.calendar_url(), USER, "wrong", SYSTEM)

    with delivered():
        booking = book(clinic)

    push = OutboxMessage.objects.get(channel=CALDAV)
    assert (push.status, push.attempts) == (Status.FAILED, 1)
    assert push.last_error.startswith("AuthorizationError: ")
    assert "Unauthorized" in push.last_error
    assert "wrong" not in push.last_error
    assert connection_state() == (
        None,
        timezone.now(),
        "The calendar server refused the username or password (HTTP 401).",
    )
    assert Booking.objects.get(pk=booking.pk).status == Booking.Status.CONFIRMED
    assert OutboxMessage.objects.get(template="booking_confirmed").status == "sent"
    assert stored_events(radicale) == []


def test_fixing_the_password_pushes_what_failed(clinic, radicale, delivered):
    connect_calendar(clinic, radicale.calendar_url(), USER, "wrong", SYSTEM)
    with delivered():
        booking = book(clinic)

    with delivered():
        connect_calendar(clinic, radicale.calendar_url(), USER, PASSWORD, SYSTEM)

    assert [event.uid for event in stored_events(radicale)] == [uid_of(booking)]
    assert pushes() == [(booking.reference, "caldav_put", "sent", 1)]
    assert connection_state() == (timezone.now(), None, "")


def test_a_calendar_that_is_not_there_fails_visibly(clinic, radicale, delivered):
    connect_calendar(clinic, radicale.calendar_url("gone"), USER, PASSWORD, SYSTEM)

    with delivered():
        booking = book(clinic)

    assert pushes() == [(booking.reference, "caldav_put", "failed", 1)]
    assert connection_state() == (
        None,
        timezone.now(),
        "No calendar was found at the address (HTTP 409).",
    )


def test_pushes_made_while_the_server_is_down_catch_up_once_it_is_back(
    connected, delivered, radicale, now, jobs
):
    radicale.stop()
    with delivered():
        moved = book(connected.provider)
        kept = book(connected.provider, FRIDAY_NINE, name="Alan Turing")
        dropped = book(connected.provider, THURSDAY_TWO, name="Grace Hopper")
    with delivered():
        services.reschedule_booking(moved, WEDNESDAY_TWO, PATIENT)
        services.cancel_booking(dropped, PATIENT)

    waiting = OutboxMessage.objects.filter(channel=CALDAV, status=Status.PENDING)
    assert sorted(waiting.values_list("booking__reference", "attempts")) == sorted(
        [(moved.reference, 1), (kept.reference, 1), (dropped.reference, 1)]
    )
    assert all(push.next_attempt_at > timezone.now() for push in waiting)
    assert all(push.last_error.startswith("ConnectionError: ") for push in waiting)
    assert connection_state() == (
        None,
        timezone.now(),
        "The calendar server could not be reached (ConnectionError).",
    )

    radicale.start()
    now.shift(timedelta(seconds=31))
    jobs.run()

    assert stored_events(radicale) == [
        StoredEvent(
            uid_of(moved),
            1,
            WEDNESDAY_TWO,
            f"Appointment: Z. N. B. ({moved.reference})",
        ),
        StoredEvent(
            uid_of(kept), 0, FRIDAY_NINE, f"Appointment: A. T. ({kept.reference})"
        ),
    ]
    assert sorted(
        OutboxMessage.objects.filter(channel=CALDAV).values_list(
            "booking__reference", "template", "status"
        )
    ) == sorted(
        [
            # Each booking's older pushes gave way to its newest one.
            (moved.reference, "caldav_put", "cancelled"),
            (moved.reference, "caldav_put", "sent"),
            (kept.reference, "caldav_put", "sent"),
            (dropped.reference, "caldav_put", "cancelled"),
            (dropped.reference, "caldav_delete", "sent"),
        ]
    )
    assert connection_state() == (timezone.now(), None, "")


# Connections.


def test_the_password_is_stored_encrypted_and_decrypts_back(connected):
    with database.cursor() as cursor:
        cursor.execute("SELECT password_encrypted FROM calendars_calendarconnection")
        [(stored,)] = cursor.fetchall()

    assert PASSWORD not in stored
    assert CalendarConnection.objects.get().password == PASSWORD
    entry = AuditEntry.objects.get(action="calendar.connected")
    assert PASSWORD not in str(entry.changes)
    assert entry.changes["password_changed"] is True


def test_connecting_pushes_the_bookings_already_made(clinic, radicale, delivered):
    with delivered():
        booking = book(clinic)
    assert pushes() == []

    with delivered():
        connect_calendar(clinic, radicale.calendar_url(), USER, PASSWORD, SYSTEM)

    assert [event.uid for event in stored_events(radicale)] == [uid_of(booking)]


def test_a_provider_without_a_calendar_gets_no_pushes(clinic, delivered):
    with delivered():
        booking = book(clinic)

    assert queue_calendar_push(booking, "put") is None
    assert pushes() == []


def test_a_push_for_a_calendar_disconnected_since_is_done(
    connected, django_capture_on_commit_callbacks, jobs, radicale
):
    with django_capture_on_commit_callbacks(execute=True):
        booking = book(connected.provider)
    CalendarConnection.objects.all().delete()

    jobs.run()

    assert pushes() == [(booking.reference, "caldav_put", "sent", 1)]
    assert stored_events(radicale) == []


def test_disconnecting_cancels_the_pushes_not_yet_sent(
    connected, django_capture_on_commit_callbacks, jobs, radicale
):
    with django_capture_on_commit_callbacks(execute=True):
        booking = book(connected.provider)

    disconnect_calendar(connected, SYSTEM)
    jobs.run()

    assert pushes() == [(booking.reference, "caldav_put", "cancelled", 0)]
    assert stored_events(radicale) == []
    assert AuditEntry.objects.filter(action="calendar.disconnected").count() == 1


@pytest.mark.parametrize(
    ("error", "permanent"),
    [
        (caldav_errors.AuthorizationError(status=401), True),
        (caldav_errors.AuthorizationError(status=403), True),
        (caldav_errors.NotFoundError(status=404), True),
        (caldav_errors.PutError(status=409), True),
        (CalendarUnusable("no key"), True),
        (caldav_errors.PutError(status=500), False),
        (caldav_errors.DAVError(status=502), False),
        (caldav_errors.RateLimitError(status=429), False),
        (caldav_errors.PutError(status=412), False),
        (niquests.exceptions.ConnectionError("refused"), False),
        (niquests.exceptions.Timeout("slow"), False),
        (ConnectionRefusedError(), False),
    ],
)
def test_only_failures_a_person_must_fix_are_permanent(error, permanent):
    assert is_permanent(error) is permanent
