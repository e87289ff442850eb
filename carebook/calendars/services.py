"""Connect a provider's CalDAV calendar and queue bookings for it.

Every booking, move and cancellation becomes an outbox row on the `caldav`
channel, written in the transaction of the change and handed to the job
queue after the commit, like an email. `carebook.calendars.push` sends it.
The event keeps the UID of the patient's email invite, so a retry or a
later change overwrites the one event instead of adding another.
"""

import logging
from datetime import timedelta
from functools import partial
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone
from icalendar import Calendar, Event

from carebook.audit.services import Actor, record_change
from carebook.bookings.models import Booking
from carebook.calendars.feeds import initials
from carebook.calendars.models import CalendarConnection
from carebook.notifications.invites import PRODUCT_ID, event_uid
from carebook.notifications.models import OutboxMessage
from carebook.notifications.outbox import hand_to_queue, retry_failed
from carebook.practice.models import Provider

logger = logging.getLogger(__name__)

PUT = "put"
DELETE = "delete"
TEMPLATES = {PUT: "caldav_put", DELETE: "caldav_delete"}
# Bookings that belong in the provider's calendar; any other is removed.
SHOWN_STATUSES = (
    Booking.Status.CONFIRMED,
    Booking.Status.COMPLETED,
    Booking.Status.NO_SHOW,
)


def connect_calendar(
    provider: Provider,
    calendar_url: str,
    username: str,
    password: str | None,
    actor: Actor,
    *,
    pushes_bookings: bool = True,
    imports_busy_times: bool = True,
) -> CalendarConnection:
    """Create or change the provider's CalDAV connection; return it.

    A `password` of None keeps the stored one. A new address, username or
    password clears the last error, which was about the settings replaced.
    When the connection pushes bookings, the calendar is caught up: pushes
    that failed are tried again and every upcoming booking is pushed.
    """
    if urlsplit(calendar_url).password is not None:
        raise ValueError("Give the password on its own, not in the address.")

    with transaction.atomic():
        connection = (
            CalendarConnection.objects.select_for_update()
            .filter(provider=provider)
            .first()
        ) or CalendarConnection(provider=provider)
        if password is None and connection.pk is None:
            raise ValueError("A new calendar connection needs a password.")
        login_changed = password is not None or (
            (connection.calendar_url, connection.username) != (calendar_url, username)
        )

        connection.calendar_url = calendar_url
        connection.username = username
        if password is not None:
            connection.password = password
        connection.pushes_bookings = pushes_bookings
        connection.imports_busy_times = imports_busy_times
        if login_changed:
            connection.last_error = ""
            connection.last_error_at = None
        connection.save()
        record_change(
            "calendar.connected",
            connection,
            actor,
            {
                "provider": provider.pk,
                "calendar_url": calendar_url,
                "username": username,
                "password_changed": password is not None,
                "pushes_bookings": pushes_bookings,
                "imports_busy_times": imports_busy_times,
            },
        )
        if pushes_bookings:
            _catch_up(connection, actor)

    logger.info("Calendar connection %s saved", connection.pk)
    return connection


def disconnect_calendar(connection: CalendarConnection, actor: Actor) -> None:
    """Remove a provider's CalDAV connection and its unsent pushes."""
    with transaction.atomic():
        record_change(
            "calendar.disconnected",
            connection,
            actor,
            {"provider": connection.provider_id},
        )
        OutboxMessage.objects.filter(
            channel=OutboxMessage.Channel.CALDAV,
            booking__provider=connection.provider_id,
            status=OutboxMessage.Status.PENDING,
        ).update(status=OutboxMessage.Status.CANCELLED)
        connection.delete()
    logger.info("Calendar connection of provider %s removed", connection.provider_id)


def _catch_up(connection: CalendarConnection, actor: Actor) -> None:
    """Push what the calendar missed while unconnected or broken."""
    failed = list(
        OutboxMessage.objects.filter(
            channel=OutboxMessage.Channel.CALDAV,
            booking__provider=connection.provider_id,
            status=OutboxMessage.Status.FAILED,
        )
    )
    for message in failed:
        retry_failed(message, actor)

    # Bookings with a retried message are already owed a push.
    upcoming = (
        Booking.objects.filter(
            provider=connection.provider_id,
            status__in=SHOWN_STATUSES,
            end__gt=timezone.now(),
        )
        .exclude(pk__in={message.booking_id for message in failed})
        .select_related("provider__practice")
    )
    for booking in upcoming:
        queue_calendar_push(booking, PUT)


def queue_calendar_push(booking: Booking, action: str) -> OutboxMessage | None:
    """Queue a change of the booking's event in its provider's calendar.

    `action` is "put" (add or update the event) or "delete". Returns the
    outbox row, or None when the provider pushes to no calendar. Unsent
    pushes of the same booking are cancelled: the newest one carries the
    booking's whole state.
    """
    if action not in TEMPLATES:
        raise ValueError(f"Unknown calendar action {action!r}")
    connection = CalendarConnection.objects.filter(
        provider=booking.provider_id, pushes_bookings=True
    ).first()
    if connection is None:
        return None

    OutboxMessage.objects.filter(
        channel=OutboxMessage.Channel.CALDAV,
        booking=booking,
        status=OutboxMessage.Status.PENDING,
    ).update(status=OutboxMessage.Status.CANCELLED)
    message = OutboxMessage.objects.create(
        channel=OutboxMessage.Channel.CALDAV,
        template=TEMPLATES[action],
        audience=OutboxMessage.Audience.PROVIDER,
        booking=booking,
        calendar=calendar_object(booking) if action == PUT else "",
    )
    # A queue that is down must not undo the booking: the sweep picks the
    # row up once the queue is back.
    transaction.on_commit(
        partial(hand_to_queue, message.pk, message.next_attempt_at), robust=True
    )
    return message


def belongs_in_calendar(booking: Booking) -> bool:
    """Return whether the provider's calendar should show the booking."""
    return booking.status in SHOWN_STATUSES


def event_summary(booking: Booking) -> str:
    """Return the event's title: the patient's initials and the reference.

    Calendar services sit outside the practice, so the title names no
    patient in full and says nothing clinical.
    """
    patient = initials(booking.patient_name)
    if not patient:
        return f"Appointment ({booking.reference})"
    return f"Appointment: {patient} ({booking.reference})"


def calendar_object(booking: Booking) -> str:
    """Return the booking as a CalDAV calendar object resource (.ics).

    The same UID and SEQUENCE as the patient's invite, but no METHOD, which
    RFC 4791 (4.1) forbids in a calendar collection, and neither organizer
    nor attendees: a server that schedules (RFC 6638) would otherwise send
    the patient invitations of its own. Nothing clinical: no appointment
    type, no specialty, no contact details.
    """
    provider = booking.provider
    zone = ZoneInfo(provider.zone_name)

    event = Event()
    event.add("uid", event_uid(booking))
    event.add("sequence", booking.sequence)
    # Without a METHOD, DTSTAMP is when the event last changed (RFC 5545,
    # 3.8.7.2), so pushing the same state twice sends the same bytes.
    event.add("dtstamp", booking.updated_at)
    event.add("dtstart", booking.start.astimezone(zone))
    event.add("dtend", booking.end.astimezone(zone))
    event.add("summary", event_summary(booking))
    event.add("location", provider.practice.name)
    event.add("status", "CONFIRMED")
    event.add("transp", "OPAQUE")

    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add_component(event)
    # The zone's rules around the appointment, not its whole history.
    start_day = booking.start.astimezone(zone).date()
    calendar.add_missing_timezones(
        first_date=start_day - timedelta(days=366),
        last_date=start_day + timedelta(days=366),
    )
    return calendar.to_ical().decode()
