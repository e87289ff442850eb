"""The outbox's CalDAV channel: bring one booking's event up to date.

`carebook.notifications.outbox.deliver` claims a `caldav` row and calls
`send`; errors in `ERRORS` are retried with backoff unless `is_permanent`
says a retry cannot help (a refused password, a missing calendar), in
which case the row fails where staff see it.

Each push writes the booking's state as it is when the push runs, not as
it was when the row was queued. A push that waited for a retry therefore
cannot bring back a cancelled event or an old time: whichever push runs
last leaves the calendar right. The event lives at an address made from
its UID, so a retry or an update overwrites the one event.
"""

import logging

import caldav
from caldav.lib import error as caldav_errors
from caldav.lib.http_sync import requests as http_library
from django.utils import timezone

from carebook.calendars.models import CalendarConnection
from carebook.calendars.services import belongs_in_calendar, calendar_object
from carebook.notifications.invites import event_uid
from carebook.notifications.models import OutboxMessage

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 20
# Answers a retry may change: a timeout, a write conflict, a lock, a
# server asking to slow down. Any other 4xx needs a person to act.
RETRYABLE_CLIENT_ERRORS = {408, 412, 423, 425, 429}


class CalendarUnusable(Exception):
    """The connection's stored settings cannot be used as they are."""


ERRORS = (
    caldav_errors.DAVError,
    http_library.exceptions.RequestException,
    OSError,
    CalendarUnusable,
)


def send(message: OutboxMessage) -> None:
    """Make the provider's calendar show the booking as it is now.

    Records the outcome on the connection, then re-raises any error for
    the outbox to retry or fail.
    """
    booking = message.booking
    connection = CalendarConnection.objects.filter(
        provider=booking.provider_id, pushes_bookings=True
    ).first()
    if connection is None:
        logger.info("Outbox message %s: no calendar to push to", message.pk)
        return

    try:
        calendar = _open_calendar(connection)
        if belongs_in_calendar(booking):
            _put_event(calendar, calendar_object(booking), event_uid(booking))
        else:
            _delete_event(calendar, event_uid(booking))
    except ERRORS as error:
        _record_failure(connection, error)
        raise

    CalendarConnection.objects.filter(pk=connection.pk).update(
        last_success_at=timezone.now(), last_error="", last_error_at=None
    )


def _open_calendar(connection: CalendarConnection) -> caldav.Calendar:
    """Return the connection's calendar; no request is made yet."""
    try:
        password = connection.password
    except ValueError:
        raise CalendarUnusable(
            "The stored password cannot be decrypted (the encryption key "
            "changed); enter the password again."
        ) from None
    client = caldav.DAVClient(
        url=connection.calendar_url,
        username=connection.username,
        password=password,
        timeout=TIMEOUT_SECONDS,
        # The address is the calendar's own: no DNS discovery.
        enable_rfc6764=False,
    )
    return client.calendar(url=connection.calendar_url)


def _put_event(calendar: caldav.Calendar, ics: str, uid: str) -> None:
    """Write the event at the address its UID gives, over any older copy."""
    try:
        # SEQUENCE is the booking's; the library must not raise it.
        calendar.add_event(ics, increase_seqno=False)
    except caldav_errors.UidConflictError:
        # The event sits at another address (moved by a calendar
        # program): overwrite it there.
        existing = calendar.get_event_by_uid(uid)
        existing.data = ics
        existing.save(increase_seqno=False)


def _delete_event(calendar: caldav.Calendar, uid: str) -> None:
    """Delete the event; one that is already gone counts as deleted."""
    try:
        event = calendar.get_event_by_uid(uid)
    except caldav_errors.NotFoundError as error:
        if error.status is not None:
            raise  # The server answered 404: the calendar itself is gone.
        return
    event.delete()


def is_permanent(error: Exception) -> bool:
    """Return whether retrying cannot help: a person must act first.

    True for a refused login or access (401, 403), a calendar that is not
    there (404, 410, or 409 to a write into a missing collection), and
    settings that cannot be used. False for refused connections, timeouts,
    5xx answers and rate limits.
    """
    if isinstance(error, CalendarUnusable):
        return True
    status = getattr(error, "status", None)
    if not isinstance(error, caldav_errors.DAVError) or status is None:
        return False
    return 400 <= status < 500 and status not in RETRYABLE_CLIENT_ERRORS


def describe(error: Exception) -> str:
    """Return a sentence for staff saying what went wrong.

    Built from the error's kind and status, so no password can appear in
    it even if an address carried one.
    """
    status = getattr(error, "status", None)
    if isinstance(error, CalendarUnusable):
        return str(error)
    if status == 401:
        return "The calendar server refused the username or password (HTTP 401)."
    if status == 403:
        return "The calendar server refused access to the calendar (HTTP 403)."
    if status in (404, 409, 410):
        return f"No calendar was found at the address (HTTP {status})."
    if isinstance(error, http_library.exceptions.Timeout):
        return "The calendar server did not answer in time."
    if isinstance(error, OSError):
        return f"The calendar server could not be reached ({type(error).__name__})."
    if status is not None:
        return f"The calendar server answered HTTP {status} ({type(error).__name__})."
    return f"The push failed ({type(error).__name__})."


def _record_failure(connection: CalendarConnection, error: Exception) -> None:
    """Show the failure on the connection, where staff look for it."""
    CalendarConnection.objects.filter(pk=connection.pk).update(
        last_error=describe(error), last_error_at=timezone.now()
    )
    logger.warning(
        "Calendar push for connection %s failed: %s",
        connection.pk,
        type(error).__name__,
    )
