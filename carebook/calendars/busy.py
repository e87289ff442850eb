"""Import the time providers are busy elsewhere, from their own calendars.

Two sources feed one parser: an ICS address (`BusyFeed`) and the provider's
CalDAV calendar (`CalendarConnection`). An import reads the events from a
day before now to a day past the practice's booking horizon, expands
recurring ones and replaces all rows of its source, so an event deleted at
the source frees its time on the next import. A failed fetch or unreadable
data keeps the previous rows and records a message staff can act on
(without the password or the address, which may hold a secret token); it
is never raised to the caller.
"""

import http.client
import logging
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import caldav
import recurring_ical_events
from caldav.lib.error import AuthorizationError, DAVError, NotFoundError
from django.db import transaction
from django.utils import timezone
from icalendar import Calendar

from carebook.calendars.models import BusyFeed, CalendarConnection, ImportedBusyTime
from carebook.practice.models import Provider
from carebook.scheduling import Interval

logger = logging.getLogger(__name__)

CALDAV_SOURCE = "caldav"
FETCH_TIMEOUT_SECONDS = 20
MAX_FEED_BYTES = 20 * 1024 * 1024
USER_AGENT = "Carebook busy-time import"
WEB_SCHEMES = ("http", "https")
# Busy time a little outside the bookable span can still touch a slot's
# buffers: a slot starting just before the horizon ends after it.
WINDOW_MARGIN = timedelta(days=1)
# All-day and floating times have no zone until they are read in the
# provider's; ask the library and the server for more, then clip exactly.
SEARCH_SLACK = timedelta(days=2)
# Longer busy times are stored as pieces of at most this length, so that
# availability can bound its index scan from below (see busy_intervals in
# carebook.bookings.availability). A week's leave is seven rows.
MAX_ROW_SPAN = timedelta(days=1)

# Values that mean "free" although the event is not marked transparent.
FREE_STATUSES = {
    "X-MICROSOFT-CDO-BUSYSTATUS": "FREE",
    "X-APPLE-EWS-BUSYSTATUS": "FREE",
}


class ImportFailed(Exception):
    """A calendar could not be fetched or read; the message is for staff."""


@dataclass(frozen=True)
class ImportResult:
    """What one import of one source did."""

    provider_id: int
    source: str
    busy_time_count: int = 0
    error: str = ""

    @property
    def succeeded(self) -> bool:
        return not self.error


# Reading iCalendar data.


def busy_intervals_from_ics(
    text: bytes | str, window_start: datetime, window_end: datetime, zone_name: str
) -> list[tuple[datetime, datetime]]:
    """Return the busy time in an iCalendar file, in UTC, within the window.

    Recurring events are expanded (RRULE, RDATE, EXDATE, and occurrences
    moved or cancelled through RECURRENCE-ID). Transparent, free and
    cancelled events block nothing. Floating times are read in `zone_name`
    (unless the calendar names its own zone in X-WR-TIMEZONE), and an
    all-day event blocks whole days there. An event without DTEND lasts its
    DURATION, else a day for a date and no time at all for a date-time.

    The intervals come sorted, overlapping ones joined, clipped to the
    window. Raise ValueError when `text` is not an iCalendar file.
    """
    calendar = Calendar.from_ical(text)
    if calendar.name != "VCALENDAR":
        raise ValueError(f"expected a VCALENDAR, found {calendar.name}")

    zone = ZoneInfo(zone_name)
    window_start, window_end = window_start.astimezone(UTC), window_end.astimezone(UTC)
    query = recurring_ical_events.of(calendar, skip_bad_series=True)
    found = []
    for event in query.between(window_start - SEARCH_SLACK, window_end + SEARCH_SLACK):
        if not blocks_time(event):
            continue
        start = max(as_utc(event["DTSTART"].dt, zone), window_start)
        end = min(as_utc(event["DTEND"].dt, zone), window_end)
        if start < end:
            found.append((start, end))
    return merged(found)


def blocks_time(event) -> bool:
    """Return whether an expanded event makes its owner busy."""
    if str(event.get("STATUS", "")).upper() == "CANCELLED":
        return False
    if str(event.get("TRANSP", "")).upper() == "TRANSPARENT":
        return False
    return not any(
        str(event.get(name, "")).upper() == value
        for name, value in FREE_STATUSES.items()
    )


def as_utc(value: date | datetime, zone: ZoneInfo) -> datetime:
    """Return an iCalendar date or date-time as a UTC instant.

    A date stands for the start of that day in `zone`; a floating time is
    read there too, with the design's rule for gaps and repeats (fold 0).
    """
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0))
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


def merged(
    intervals: Iterable[tuple[datetime, datetime]],
) -> list[tuple[datetime, datetime]]:
    """Return the intervals sorted, with overlapping or touching ones joined."""
    joined: list[tuple[datetime, datetime]] = []
    for start, end in sorted(intervals):
        if joined and start <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(joined[-1][1], end))
        else:
            joined.append((start, end))
    return joined


# Fetching.


class WebOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects to http and https addresses only."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if urlsplit(newurl).scheme.lower() not in WEB_SCHEMES:
            raise ImportFailed("The address redirected to one that is not http(s).")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def fetch_feed(url: str) -> bytes:
    """Return the body found at an http(s) address; raise ImportFailed."""
    if urlsplit(url).scheme.lower() not in WEB_SCHEMES:
        raise ImportFailed("Only http and https addresses can be imported.")

    request = urllib.request.Request(
        url, headers={"User-Agent": USER_AGENT, "Accept": "text/calendar, */*"}
    )
    opener = urllib.request.build_opener(WebOnlyRedirects)
    try:
        with opener.open(request, timeout=FETCH_TIMEOUT_SECONDS) as response:
            body = response.read(MAX_FEED_BYTES + 1)
    except urllib.error.HTTPError as error:
        raise ImportFailed(
            f"The address answered HTTP {error.code} ({error.reason})."
        ) from None
    except urllib.error.URLError as error:
        raise ImportFailed(
            f"The address could not be reached: {describe(error.reason)}."
        ) from None
    except (OSError, http.client.HTTPException) as error:
        raise ImportFailed(
            f"The address could not be read: {describe(error)}."
        ) from None

    if len(body) > MAX_FEED_BYTES:
        raise ImportFailed(
            f"The calendar is larger than {MAX_FEED_BYTES // 1024 // 1024} MB."
        )
    return body


def fetch_caldav(connection: CalendarConnection, window: Interval) -> list[str]:
    """Return the raw iCalendar data of the connection's events in `window`.

    The server is asked for the objects in the window unexpanded, so that
    recurring events are expanded here by the same parser as feeds.
    """
    try:
        password = connection.password
    except ValueError:
        raise ImportFailed(
            "The stored password cannot be read (the encryption key changed); "
            "enter the password again."
        ) from None

    client = caldav.DAVClient(
        url=connection.calendar_url,
        username=connection.username,
        password=password,
        timeout=FETCH_TIMEOUT_SECONDS,
    )
    try:
        with client:
            calendar = client.calendar(url=connection.calendar_url)
            found = calendar.search(
                start=window.start - SEARCH_SLACK,
                end=window.end + SEARCH_SLACK,
                event=True,
                expand=False,
                post_filter=False,
            )
            return [item.data for item in found]
    except AuthorizationError:
        raise ImportFailed(
            "The calendar server refused the username or password."
        ) from None
    except NotFoundError:
        raise ImportFailed(
            "The calendar server has no calendar at that address."
        ) from None
    except DAVError as error:
        reason = getattr(error, "reason", "") or "no reason given"
        raise ImportFailed(
            f"The calendar server answered with an error: {reason}."
        ) from None
    except OSError as error:
        reason = describe(error)
        if password:
            reason = reason.replace(password, "***")
        raise ImportFailed(
            f"The calendar server could not be reached: {reason}."
        ) from None


def describe(error: BaseException | str) -> str:
    """Return a short reason for a network error, such as "Connection refused"."""
    # niquests and urllib3 wrap the cause twice; the innermost reads best.
    while isinstance(error, BaseException) and error.__context__ is not None:
        error = error.__context__
    if isinstance(error, TimeoutError):
        return f"no answer within {FETCH_TIMEOUT_SECONDS} seconds"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


# Importing.


def import_window(provider: Provider, now: datetime) -> Interval:
    """Return the span an import reads: the bookable days and a margin."""
    horizon = timedelta(days=provider.practice.horizon_days)
    return Interval(now - WINDOW_MARGIN, now + horizon + WINDOW_MARGIN)


def import_feed(feed: BusyFeed, now: datetime | None = None) -> ImportResult:
    """Replace a feed's busy times with those at its address now."""
    now = now or timezone.now()
    source = f"feed:{feed.pk}"
    window = import_window(feed.provider, now)
    zone_name = feed.provider.zone_name
    try:
        body = fetch_feed(feed.url)
        intervals = read_calendars([body], window, zone_name)
    except ImportFailed as error:
        return record_failure(feed, source, str(error), now)
    return record_success(feed, source, intervals, now)


def import_caldav(
    connection: CalendarConnection, now: datetime | None = None
) -> ImportResult:
    """Replace a CalDAV calendar's busy times with its events now."""
    now = now or timezone.now()
    window = import_window(connection.provider, now)
    zone_name = connection.provider.zone_name
    try:
        texts = fetch_caldav(connection, window)
        intervals = read_calendars(texts, window, zone_name)
    except ImportFailed as error:
        return record_failure(connection, CALDAV_SOURCE, str(error), now)
    return record_success(connection, CALDAV_SOURCE, intervals, now)


def read_calendars(
    texts: Iterable[bytes | str], window: Interval, zone_name: str
) -> list[tuple[datetime, datetime]]:
    """Return the busy time of several iCalendar files; raise ImportFailed."""
    found = []
    for text in texts:
        try:
            found += busy_intervals_from_ics(text, window.start, window.end, zone_name)
        except ValueError:
            raise ImportFailed("The calendar is not in iCalendar format.") from None
        except Exception as error:
            # Remote data can upset the parsers in many ways; one bad
            # calendar must not stop the imports of the others.
            logger.warning("Unreadable calendar data", exc_info=True)
            raise ImportFailed(
                f"The calendar could not be read ({type(error).__name__})."
            ) from None
    return merged(found)


def record_success(holder, source, intervals, now) -> ImportResult:
    """Replace the source's rows and note the success, in one transaction."""
    model = type(holder)
    with transaction.atomic():
        # The lock keeps two imports of one source (the schedule and a
        # request) from interleaving their deletes and inserts.
        if not model.objects.select_for_update().filter(pk=holder.pk).exists():
            return ImportResult(holder.provider_id, source, error="Source deleted.")
        ImportedBusyTime.objects.filter(
            provider_id=holder.provider_id, source=source
        ).delete()
        rows = ImportedBusyTime.objects.bulk_create(
            row_pieces(holder.provider_id, source, intervals)
        )
        model.objects.filter(pk=holder.pk).update(
            last_success_at=now, last_error="", last_error_at=None
        )

    holder.last_success_at, holder.last_error, holder.last_error_at = now, "", None
    logger.info(
        "Imported %s busy times from %s of provider %s",
        len(rows),
        source,
        holder.provider_id,
    )
    return ImportResult(holder.provider_id, source, busy_time_count=len(rows))


def row_pieces(provider_id, source, intervals) -> Iterator[ImportedBusyTime]:
    """Yield unsaved rows for the intervals, none longer than MAX_ROW_SPAN."""
    for start, end in intervals:
        while start < end:
            piece_end = min(end, start + MAX_ROW_SPAN)
            yield ImportedBusyTime(
                provider_id=provider_id, source=source, start=start, end=piece_end
            )
            start = piece_end


def record_failure(holder, source, message, now) -> ImportResult:
    """Note why an import failed; the source's previous rows stay."""
    type(holder).objects.filter(pk=holder.pk).update(
        last_error=message, last_error_at=now
    )
    holder.last_error, holder.last_error_at = message, now
    logger.warning(
        "Busy-time import from %s of provider %s failed: %s",
        source,
        holder.provider_id,
        message,
    )
    return ImportResult(holder.provider_id, source, error=message)


def import_busy_times(
    provider: Provider | None = None, now: datetime | None = None
) -> list[ImportResult]:
    """Import every feed and CalDAV calendar, or one provider's; report each.

    Rows left by deleted feeds and by connections whose import was switched
    off are removed first.
    """
    now = now or timezone.now()
    remove_orphaned_busy_times(provider)

    feeds = BusyFeed.objects.select_related("provider__practice").order_by("pk")
    connections = CalendarConnection.objects.filter(
        imports_busy_times=True
    ).select_related("provider__practice")
    if provider is not None:
        feeds = feeds.filter(provider=provider)
        connections = connections.filter(provider=provider)

    results = [import_feed(feed, now) for feed in feeds]
    results += [import_caldav(connection, now) for connection in connections]
    return results


def remove_orphaned_busy_times(provider: Provider | None = None) -> int:
    """Delete imported rows whose source is gone; return how many."""
    rows = ImportedBusyTime.objects.order_by()
    feeds = BusyFeed.objects.order_by()
    connections = CalendarConnection.objects.filter(imports_busy_times=True)
    if provider is not None:
        rows = rows.filter(provider=provider)
        feeds = feeds.filter(provider=provider)
        connections = connections.filter(provider=provider)

    live = {(owner, f"feed:{pk}") for pk, owner in feeds.values_list("pk", "provider")}
    live |= {
        (owner, CALDAV_SOURCE)
        for owner in connections.values_list("provider", flat=True)
    }
    deleted = 0
    for owner, source in rows.values_list("provider", "source").distinct():
        if (owner, source) not in live:
            deleted += rows.filter(provider=owner, source=source).delete()[0]
    return deleted
