"""Busy times imported from providers' own calendars block their slots.

The files in data/ are shaped like exports of Google Calendar, Outlook and
Apple Calendar. Feeds are served by a real HTTP server on 127.0.0.1, CalDAV
calendars by a real Radicale server. Time is frozen at Monday 7 December
2026, 08:00 UTC; Dr Lovelace works in Europe/Dublin (UTC+0 in winter)
09:00–12:30 and 13:30–17:00 on weekdays, and a consultation lasts 30
minutes with 10 minutes' buffer after.
"""

import socket
import threading
import uuid
from datetime import UTC, date, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import caldav
import pytest
from django.core.management import CommandError, call_command

from carebook.bookings.availability import find_free_slots
from carebook.calendars.busy import (
    busy_intervals_from_ics,
    import_busy_times,
    import_caldav,
    import_feed,
)
from carebook.calendars.models import BusyFeed, CalendarConnection, ImportedBusyTime
from carebook.calendars.tasks import (
    import_busy_times_every_quarter_hour,
    import_provider_busy_times,
)
from carebook.scheduling import Interval
from tests.radicale import PASSWORD, USER
from tests.smtp import free_port

DATA = Path(__file__).parent / "data"
DUBLIN = ZoneInfo("Europe/Dublin")
NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def utc(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def read(name: str) -> bytes:
    return (DATA / name).read_bytes()


def local_starts(provider, appointment_type, day: date) -> list[str]:
    """Return the free starts on a day, as Dublin wall times."""
    window = Interval(
        datetime.combine(day, time(0), tzinfo=DUBLIN),
        datetime.combine(day + timedelta(days=1), time(0), tzinfo=DUBLIN),
    )
    slots = find_free_slots(provider, appointment_type, window, NOW)
    return [f"{slot.start.astimezone(DUBLIN):%H:%M}" for slot in slots]


def grid(first: str, last: str) -> list[str]:
    """Return the 15 minute starts from `first` to `last`, both included."""
    start, end = (
        datetime.combine(NOW.date(), time.fromisoformat(wall), tzinfo=UTC)
        for wall in (first, last)
    )
    step = timedelta(minutes=15)
    return [f"{start + n * step:%H:%M}" for n in range((end - start) // step + 1)]


def stored(provider, source=None) -> list[tuple[datetime, datetime]]:
    rows = ImportedBusyTime.objects.filter(provider=provider).order_by("start")
    if source is not None:
        rows = rows.filter(source=source)
    return list(rows.values_list("start", "end"))


# The parser, on the three exports.

WINTER = (utc(2026, 12, 7), utc(2027, 2, 8))


def test_google_export_expands_the_weekly_meeting_and_skips_free_time():
    busy = busy_intervals_from_ics(read("google.ics"), *WINTER, "Europe/Dublin")

    assert busy == [
        # Weekly on Tuesdays 10:00–11:00 from 8 December until 2 February.
        (utc(2026, 12, 8, 10), utc(2026, 12, 8, 11)),
        # The RCPI winter meeting: all day on Friday 11 December.
        (utc(2026, 12, 11), utc(2026, 12, 12)),
        # A single event, exported in UTC.
        (utc(2026, 12, 14, 16), utc(2026, 12, 14, 17, 15)),
        # 15 December moved to 14:30–15:30 through RECURRENCE-ID.
        (utc(2026, 12, 15, 14, 30), utc(2026, 12, 15, 15, 30)),
        # 22 December is an EXDATE; 5 January a cancelled occurrence.
        (utc(2026, 12, 29, 10), utc(2026, 12, 29, 11)),
        (utc(2027, 1, 12, 10), utc(2027, 1, 12, 11)),
        (utc(2027, 1, 19, 10), utc(2027, 1, 19, 11)),
        (utc(2027, 1, 26, 10), utc(2027, 1, 26, 11)),
        (utc(2027, 2, 2, 10), utc(2027, 2, 2, 11)),
    ]
    # Not there: the transparent lunch on 9 December, the transparent
    # all-day birthday on 16 December, the cancelled dentist on 10 December.


def test_outlook_export_reads_windows_zones_and_busy_status():
    busy = busy_intervals_from_ics(read("outlook.ics"), *WINTER, "Europe/Dublin")

    assert busy == [
        # "Ward round", weekly on Wednesdays, COUNT=4, in "GMT Standard Time".
        (utc(2026, 12, 16, 8), utc(2026, 12, 16, 9, 30)),
        # 15:00–16:00 in "W. Europe Standard Time" (Berlin), tentative.
        (utc(2026, 12, 17, 14), utc(2026, 12, 17, 15)),
        (utc(2026, 12, 23, 8), utc(2026, 12, 23, 9, 30)),
        (utc(2026, 12, 30, 8), utc(2026, 12, 30, 9, 30)),
        # Annual leave, all day, out of office.
        (utc(2027, 1, 4), utc(2027, 1, 5)),
        (utc(2027, 1, 6, 8), utc(2027, 1, 6, 9, 30)),
    ]
    # Not there: "Reading time" on 17 December, which is OPAQUE but whose
    # X-MICROSOFT-CDO-BUSYSTATUS is FREE, as Outlook shows it.


def test_apple_export_reads_floating_times_rdates_and_the_clock_change():
    busy = busy_intervals_from_ics(
        read("apple.ics"), utc(2026, 12, 1), utc(2027, 4, 1), "Europe/Dublin"
    )

    assert busy == [
        # Physio on 14 December, and again on its two RDATEs.
        (utc(2026, 12, 14, 12, 30), utc(2026, 12, 14, 13, 15)),
        # The carol concert, 16:30–18:00 floating, read in Dublin.
        (utc(2026, 12, 17, 16, 30), utc(2026, 12, 17, 18)),
        (utc(2026, 12, 21, 12, 30), utc(2026, 12, 21, 13, 15)),
        (utc(2027, 1, 11, 12, 30), utc(2027, 1, 11, 13, 15)),
        # Skiing: all day from Monday 18 to Friday 22 January.
        (utc(2027, 1, 18), utc(2027, 1, 23)),
        # On call 22:00 GMT to 06:00 IST: clocks went forward at 01:00 UTC,
        # so the night lasts seven hours.
        (utc(2027, 3, 27, 22), utc(2027, 3, 28, 5)),
        # All day on Monday 29 March, a summer-time day in Dublin.
        (utc(2027, 3, 28, 23), utc(2027, 3, 29, 23)),
    ]
    # Not there: the transparent all-day Christmas Eve.


def test_floating_and_all_day_times_are_read_in_the_providers_zone():
    busy = busy_intervals_from_ics(
        read("apple.ics"), utc(2026, 12, 1), utc(2027, 4, 1), "Europe/Berlin"
    )

    assert busy == [
        (utc(2026, 12, 14, 12, 30), utc(2026, 12, 14, 13, 15)),
        # 16:30 floating is 15:30 UTC in Berlin.
        (utc(2026, 12, 17, 15, 30), utc(2026, 12, 17, 17)),
        (utc(2026, 12, 21, 12, 30), utc(2026, 12, 21, 13, 15)),
        (utc(2027, 1, 11, 12, 30), utc(2027, 1, 11, 13, 15)),
        # Berlin's days start an hour before Dublin's, two in summer.
        (utc(2027, 1, 17, 23), utc(2027, 1, 22, 23)),
        (utc(2027, 3, 27, 22), utc(2027, 3, 28, 5)),
        (utc(2027, 3, 28, 22), utc(2027, 3, 29, 22)),
    ]


def test_busy_times_are_clipped_to_the_window():
    busy = busy_intervals_from_ics(
        read("google.ics"),
        utc(2026, 12, 15, 15),
        utc(2026, 12, 29, 10, 30),
        "Europe/Dublin",
    )

    assert busy == [
        (utc(2026, 12, 15, 15), utc(2026, 12, 15, 15, 30)),
        (utc(2026, 12, 29, 10), utc(2026, 12, 29, 10, 30)),
    ]


def calendar(*events: str) -> str:
    """Return a minimal iCalendar file holding the given VEVENT bodies."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Carebook tests//EN"]
    for event in events:
        lines += ["BEGIN:VEVENT", f"UID:{uuid.uuid5(uuid.NAMESPACE_OID, event)}"]
        lines += ["DTSTAMP:20261201T000000Z", *event.split("\n"), "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return "\r\n".join(lines) + "\r\n"


def test_events_without_an_end_use_their_duration_or_the_rfc_defaults():
    text = calendar(
        "DTSTART:20261208T090000Z\nDURATION:PT45M",
        # A date without an end lasts that day.
        "DTSTART;VALUE=DATE:20261210",
        # A date-time without an end or a duration takes no time.
        "DTSTART:20261211T090000Z",
        "DTSTART;VALUE=DATE:20261214\nDURATION:P2D",
    )

    busy = busy_intervals_from_ics(text, *WINTER, "Europe/Dublin")

    assert busy == [
        (utc(2026, 12, 8, 9), utc(2026, 12, 8, 9, 45)),
        (utc(2026, 12, 10), utc(2026, 12, 11)),
        (utc(2026, 12, 14), utc(2026, 12, 16)),
    ]


def test_cancelled_and_transparent_series_block_nothing():
    text = calendar(
        "DTSTART:20261208T090000Z\nDTEND:20261208T100000Z\n"
        "RRULE:FREQ=DAILY;COUNT=5\nSTATUS:CANCELLED",
        "DTSTART:20261208T110000Z\nDTEND:20261208T120000Z\n"
        "RRULE:FREQ=DAILY;COUNT=5\nTRANSP:TRANSPARENT",
        "DTSTART:20261208T130000Z\nDTEND:20261208T140000Z\nSTATUS:TENTATIVE",
    )

    busy = busy_intervals_from_ics(text, *WINTER, "Europe/Dublin")

    assert busy == [(utc(2026, 12, 8, 13), utc(2026, 12, 8, 14))]


def test_overlapping_and_touching_events_are_joined():
    text = calendar(
        "DTSTART:20261208T090000Z\nDTEND:20261208T100000Z",
        "DTSTART:20261208T093000Z\nDTEND:20261208T103000Z",
        "DTSTART:20261208T103000Z\nDTEND:20261208T110000Z",
        "DTSTART:20261208T120000Z\nDTEND:20261208T130000Z",
    )

    busy = busy_intervals_from_ics(text, *WINTER, "Europe/Dublin")

    assert busy == [
        (utc(2026, 12, 8, 9), utc(2026, 12, 8, 11)),
        (utc(2026, 12, 8, 12), utc(2026, 12, 8, 13)),
    ]


def test_text_that_is_not_icalendar_is_refused():
    with pytest.raises(ValueError):
        busy_intervals_from_ics(
            b"<!doctype html><p>Sign in</p>", *WINTER, "Europe/Dublin"
        )


# Feeds, served over HTTP.


class FeedServer:
    """An HTTP server on 127.0.0.1 answering each path as it is told."""

    def __init__(self):
        self.answers: dict[str, tuple[int, str, bytes]] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                status, content_type, body = server.answers.get(
                    self.path, (404, "text/plain", b"Not found")
                )
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format, *args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)

    def serve(self, path, body, status=200, content_type="text/calendar") -> str:
        """Answer `path` with `body` from now on; return its address."""
        self.answers[path] = (status, content_type, body)
        return self.url(path)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.http.server_port}{path}"


@pytest.fixture
def web():
    server = FeedServer()
    server.thread.start()
    yield server
    server.http.shutdown()
    server.http.server_close()


@pytest.fixture
def google_feed(provider, web):
    url = web.serve("/calendar/ical/ada/private-3f9c/basic.ics", read("google.ics"))
    return BusyFeed.objects.create(provider=provider, url=url)


def test_imported_feed_blocks_the_slots_of_its_busy_times(
    provider, consultation, google_feed, now
):
    tuesday, friday = date(2026, 12, 15), date(2026, 12, 11)
    before = local_starts(provider, consultation, tuesday)
    assert local_starts(provider, consultation, friday) != []

    result = import_feed(google_feed, NOW)

    after = local_starts(provider, consultation, tuesday)
    # The meeting moved to 14:30–15:30; with 10 minutes' buffer after, a
    # consultation may start at 13:45 at the latest and at 15:30 again.
    assert [start for start in before if start not in after] == [
        "14:00",
        "14:15",
        "14:30",
        "14:45",
        "15:00",
        "15:15",
    ]
    # Its usual 10:00 on that Tuesday is free.
    assert after == [*grid("09:00", "12:00"), "13:30", "13:45", *grid("15:30", "16:30")]
    assert local_starts(provider, consultation, friday) == []

    assert (result.succeeded, result.busy_time_count) == (True, 9)
    google_feed.refresh_from_db()
    assert google_feed.last_success_at == NOW
    assert (google_feed.last_error, google_feed.last_error_at) == ("", None)


def test_feed_import_stores_the_window_from_yesterday_to_past_the_horizon(
    provider, google_feed, now
):
    import_feed(google_feed, NOW)

    # The window runs from a day before now to a day after the 60 day
    # horizon (6 February, 08:00 UTC), so the series stops at 2 February.
    assert stored(provider, f"feed:{google_feed.pk}") == [
        (utc(2026, 12, 8, 10), utc(2026, 12, 8, 11)),
        (utc(2026, 12, 11), utc(2026, 12, 12)),
        (utc(2026, 12, 14, 16), utc(2026, 12, 14, 17, 15)),
        (utc(2026, 12, 15, 14, 30), utc(2026, 12, 15, 15, 30)),
        (utc(2026, 12, 29, 10), utc(2026, 12, 29, 11)),
        (utc(2027, 1, 12, 10), utc(2027, 1, 12, 11)),
        (utc(2027, 1, 19, 10), utc(2027, 1, 19, 11)),
        (utc(2027, 1, 26, 10), utc(2027, 1, 26, 11)),
        (utc(2027, 2, 2, 10), utc(2027, 2, 2, 11)),
    ]


def test_long_busy_time_is_stored_a_day_at_a_time_and_blocks_every_day(
    provider, consultation, web, now
):
    feed = BusyFeed.objects.create(
        provider=provider, url=web.serve("/a", read("apple.ics"))
    )

    import_feed(feed, NOW)

    skiing = [
        (start, end) for start, end in stored(provider) if start >= utc(2027, 1, 18)
    ]
    assert skiing == [
        (utc(2027, 1, day), utc(2027, 1, day + 1)) for day in range(18, 23)
    ]
    for day in range(18, 23):
        assert local_starts(provider, consultation, date(2027, 1, day)) == []
    assert local_starts(provider, consultation, date(2027, 1, 25)) != []


def test_reimport_replaces_the_feeds_rows_and_leaves_other_sources_alone(
    provider, google_feed, web, now
):
    other = ImportedBusyTime.objects.create(
        provider=provider,
        source="caldav",
        start=utc(2026, 12, 9),
        end=utc(2026, 12, 10),
    )
    import_feed(google_feed, NOW)
    first = stored(provider, f"feed:{google_feed.pk}")

    import_feed(google_feed, NOW)
    assert stored(provider, f"feed:{google_feed.pk}") == first
    assert len(first) == 9

    web.serve("/calendar/ical/ada/private-3f9c/basic.ics", read("outlook.ics"))
    import_feed(google_feed, NOW)
    assert stored(provider, f"feed:{google_feed.pk}") == [
        (utc(2026, 12, 16, 8), utc(2026, 12, 16, 9, 30)),
        (utc(2026, 12, 17, 14), utc(2026, 12, 17, 15)),
        (utc(2026, 12, 23, 8), utc(2026, 12, 23, 9, 30)),
        (utc(2026, 12, 30, 8), utc(2026, 12, 30, 9, 30)),
        (utc(2027, 1, 4), utc(2027, 1, 5)),
        (utc(2027, 1, 6, 8), utc(2027, 1, 6, 9, 30)),
    ]
    assert list(ImportedBusyTime.objects.filter(source="caldav")) == [other]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("refused", "The address could not be reached: Connection refused."),
        ("404", "The address answered HTTP 404 (Not Found)."),
        ("html", "The calendar is not in iCalendar format."),
        ("empty", "The calendar is not in iCalendar format."),
        ("file", "Only http and https addresses can be imported."),
    ],
)
def test_failed_import_records_why_and_keeps_the_previous_rows(
    provider, google_feed, web, now, answer, message
):
    import_feed(google_feed, NOW)
    before = stored(provider)
    later = NOW + timedelta(minutes=15)
    google_feed.url = {
        "refused": f"http://127.0.0.1:{free_port()}/basic.ics",
        "404": web.url("/gone.ics"),
        "html": web.serve("/login", b"<!doctype html><p>Sign in</p>", 200, "text/html"),
        "empty": web.serve("/empty.ics", b""),
        "file": "file:///etc/passwd",
    }[answer]
    google_feed.save()

    result = import_feed(google_feed, later)

    assert (result.succeeded, result.error) == (False, message)
    google_feed.refresh_from_db()
    assert (google_feed.last_error, google_feed.last_error_at) == (message, later)
    assert google_feed.last_success_at == NOW
    assert stored(provider) == before


def test_address_that_never_answers_times_out(provider, google_feed, monkeypatch, now):
    monkeypatch.setattr("carebook.calendars.busy.FETCH_TIMEOUT_SECONDS", 0.2)
    with socket.create_server(("127.0.0.1", 0)) as silent:
        google_feed.url = f"http://127.0.0.1:{silent.getsockname()[1]}/basic.ics"
        google_feed.save()

        result = import_feed(google_feed, NOW)

    assert (
        result.error == "The address could not be read: no answer within 0.2 seconds."
    )


def test_next_success_clears_the_error(provider, google_feed, web, now):
    google_feed.url = web.url("/gone.ics")
    google_feed.save()
    import_feed(google_feed, NOW)

    google_feed.url = web.serve("/back.ics", read("google.ics"))
    google_feed.save()
    import_feed(google_feed, NOW + timedelta(minutes=15))

    google_feed.refresh_from_db()
    assert google_feed.last_success_at == NOW + timedelta(minutes=15)
    assert (google_feed.last_error, google_feed.last_error_at) == ("", None)


def test_rows_of_a_deleted_feed_stop_blocking_at_the_next_import(
    provider, consultation, google_feed, now
):
    import_feed(google_feed, NOW)
    google_feed.delete()
    assert local_starts(provider, consultation, date(2026, 12, 11)) == []

    results = import_busy_times(provider, NOW)

    assert results == []
    assert stored(provider) == []
    assert local_starts(provider, consultation, date(2026, 12, 11)) != []


# CalDAV, on a real Radicale server.

WEEKLY_CHECK_IN = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Carebook tests//EN
BEGIN:VEVENT
UID:weekly-check-in@example.test
DTSTAMP:20261101T090000Z
DTSTART;TZID=Europe/Dublin:20261112T090000
DTEND;TZID=Europe/Dublin:20261112T100000
RRULE:FREQ=WEEKLY;BYDAY=TH;UNTIL=20270131T000000Z
EXDATE;TZID=Europe/Dublin:20261224T090000
SUMMARY:Weekly check-in
END:VEVENT
BEGIN:VEVENT
UID:weekly-check-in@example.test
DTSTAMP:20261101T090000Z
RECURRENCE-ID;TZID=Europe/Dublin:20261231T090000
DTSTART;TZID=Europe/Dublin:20261230T160000
DTEND;TZID=Europe/Dublin:20261230T170000
SUMMARY:Weekly check-in (moved)
END:VEVENT
END:VCALENDAR
"""

SINGLE_EVENTS = [
    calendar("DTSTART:20261217T140000Z\nDTEND:20261217T150000Z\nSUMMARY:Meeting"),
    calendar(
        "DTSTART:20261217T110000Z\nDTEND:20261217T120000Z\n"
        "TRANSP:TRANSPARENT\nSUMMARY:Maybe"
    ),
    # Long past: outside the window, and not sent by the server.
    calendar("DTSTART:20261001T090000Z\nDTEND:20261001T100000Z\nSUMMARY:Old"),
]


@pytest.fixture
def caldav_calendar(radicale):
    """Put a recurring event and three single ones on the CalDAV server."""
    client = caldav.DAVClient(radicale.url, username=USER, password=PASSWORD)
    server_calendar = client.calendar(url=radicale.calendar_url())
    for text in [WEEKLY_CHECK_IN, *SINGLE_EVENTS]:
        server_calendar.save_event(text)
    return radicale.calendar_url()


@pytest.fixture
def connection(provider, caldav_calendar):
    connection = CalendarConnection(
        provider=provider, calendar_url=caldav_calendar, username=USER
    )
    connection.password = PASSWORD
    connection.save()
    return connection


def test_caldav_import_blocks_the_slots_of_the_calendars_events(
    provider, consultation, connection, now
):
    thursday = date(2026, 12, 17)
    before = local_starts(provider, consultation, thursday)

    result = import_caldav(connection, NOW)

    assert (result.succeeded, result.busy_time_count) == (True, 8)
    assert stored(provider, "caldav") == [
        (utc(2026, 12, 10, 9), utc(2026, 12, 10, 10)),
        (utc(2026, 12, 17, 9), utc(2026, 12, 17, 10)),
        (utc(2026, 12, 17, 14), utc(2026, 12, 17, 15)),
        # 24 December is an EXDATE; 31 December moved to the 30th.
        (utc(2026, 12, 30, 16), utc(2026, 12, 30, 17)),
        (utc(2027, 1, 7, 9), utc(2027, 1, 7, 10)),
        (utc(2027, 1, 14, 9), utc(2027, 1, 14, 10)),
        (utc(2027, 1, 21, 9), utc(2027, 1, 21, 10)),
        (utc(2027, 1, 28, 9), utc(2027, 1, 28, 10)),
    ]
    after = local_starts(provider, consultation, thursday)
    assert [start for start in before if start not in after] == [
        *grid("09:00", "09:45"),
        *grid("13:30", "14:45"),
    ]
    connection.refresh_from_db()
    assert (connection.last_success_at, connection.last_error) == (NOW, "")


def test_wrong_caldav_password_shows_as_the_connections_error(
    provider, connection, now
):
    import_caldav(connection, NOW)
    before = stored(provider)
    connection.password = "Tr0ub4dor&3"
    connection.save()

    result = import_caldav(connection, NOW + timedelta(minutes=15))

    message = "The calendar server refused the username or password."
    assert result.error == message
    connection.refresh_from_db()
    assert connection.last_error == message
    assert connection.last_error_at == NOW + timedelta(minutes=15)
    assert connection.last_success_at == NOW
    assert stored(provider) == before


def test_missing_caldav_calendar_shows_as_the_connections_error(
    provider, connection, radicale, now
):
    connection.calendar_url = radicale.calendar_url("holidays")
    connection.save()

    import_caldav(connection, NOW)

    connection.refresh_from_db()
    assert connection.last_error == (
        "The calendar server has no calendar at that address."
    )


def test_unreachable_caldav_server_shows_as_the_connections_error(provider, now):
    connection = CalendarConnection(
        provider=provider,
        calendar_url=f"http://127.0.0.1:{free_port()}/{USER}/appointments/",
        username=USER,
    )
    connection.password = PASSWORD
    connection.save()

    import_caldav(connection, NOW)

    connection.refresh_from_db()
    assert connection.last_error == (
        "The calendar server could not be reached: Connection refused."
    )
    assert connection.last_success_at is None


# Jobs and the command.


def test_scheduled_job_imports_every_source_with_imports_on(
    provider, google_feed, connection, now
):
    connection.imports_busy_times = False
    connection.save()

    failures = import_busy_times_every_quarter_hour.call_local()

    assert failures == 0
    assert {source for (source,) in ImportedBusyTime.objects.values_list("source")} == {
        f"feed:{google_feed.pk}"
    }
    connection.refresh_from_db()
    assert connection.last_success_at is None


def test_turning_a_connections_import_off_removes_its_rows(provider, connection, now):
    import_caldav(connection, NOW)
    connection.imports_busy_times = False
    connection.save()

    import_busy_times(provider, NOW)

    assert stored(provider, "caldav") == []


def test_job_for_one_provider_imports_its_calendars_when_the_queue_runs(
    provider, google_feed, connection, jobs, now
):
    import_provider_busy_times(provider.pk)
    assert ImportedBusyTime.objects.count() == 0

    assert jobs.run() == 1
    assert ImportedBusyTime.objects.filter(source="caldav").count() == 8
    assert ImportedBusyTime.objects.filter(source=f"feed:{google_feed.pk}").count() == 9


def test_command_imports_one_provider_and_prints_a_summary(provider, google_feed, now):
    broken = BusyFeed.objects.create(
        provider=provider, url=f"http://127.0.0.1:{free_port()}/x.ics"
    )
    out = StringIO()

    call_command("import_busy_times", "--provider", str(provider.pk), stdout=out)

    assert out.getvalue().splitlines() == [
        f"feed:{google_feed.pk} of provider {provider.pk}: 9 busy times",
        f"feed:{broken.pk} of provider {provider.pk}: failed: "
        "The address could not be reached: Connection refused.",
        "1 of 2 calendars imported, 1 failed.",
    ]


def test_command_refuses_an_unknown_provider(db):
    with pytest.raises(CommandError, match=r"^There is no provider with id 404\.$"):
        call_command("import_busy_times", "--provider", "404")
