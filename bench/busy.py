"""Time free slots over a month when 500 imported busy events block them.

`bench/run` is the usual way in: it runs this once on a fresh SQLite file
and once on PostgreSQL. On its own, from the project root, with
DATABASE_URL naming a database it may empty:

    CAREBOOK_VAR_DIR=$(mktemp -d) .venv/bin/python -m bench.busy

1. Start from an empty database and migrate it, as bench/slots.py does (a
   fresh SQLite file, or a PostgreSQL database with "bench" in its name).
2. Create one provider working weekdays, and write an ICS export of their
   own calendar with 500 busy events over the 30 days from next Monday:
   400 single events and 20 weekly series of 5, never overlapping, as
   Google Calendar writes them (times in a VTIMEZONE zone).
3. Import the export through an HTTP server on 127.0.0.1 with import_feed,
   which stores the 500 busy times as ImportedBusyTime rows; add 120
   bookings on the provider's slot grid.
4. EXPLAIN the imported busy time query behind find_free_slots.
5. Time find_free_slots over the 30 days, parsing and expanding the export
   alone, and the whole import, and print a table.
"""

# Django must be set up before the models are imported.
# ruff: noqa: E402

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carebook.settings")
# A log line per timed import would bury the report.
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django

django.setup()

import random
import threading
import time
from datetime import date, datetime, timedelta
from datetime import time as wall_time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from uuid import UUID

from django.db import connection
from django.utils import timezone

from bench import slots
from carebook.bookings.availability import MARGIN, find_free_slots
from carebook.bookings.models import Booking, hash_token
from carebook.calendars.busy import (
    MAX_ROW_SPAN,
    busy_intervals_from_ics,
    import_feed,
    import_window,
)
from carebook.calendars.models import BusyFeed, ImportedBusyTime
from carebook.practice.models import (
    AppointmentType,
    Practice,
    Provider,
    Service,
    WeeklyHours,
)
from carebook.scheduling import Interval

ZONE_NAME = slots.ZONE_NAME
ZONE = slots.ZONE
QUARTER = timedelta(minutes=15)
# The provider's own calendar fills early mornings, evenings and weekends
# too: events start on a quarter-hour from 06:00 and end by 23:00.
OWN_DAY_START = wall_time(6)
OWN_DAY_QUARTERS = 17 * 4
EVENT_QUARTERS = (1, 1, 2, 2, 3, 4)  # 15 minutes to an hour
PLACING_ATTEMPTS = 100_000

WINDOW_DAYS = 30
SINGLE_EVENTS = 400
SERIES = 25
SERIES_LENGTH = 4  # weekly, so a series starts in the first 9 days
EVENT_COUNT = SINGLE_EVENTS + SERIES * SERIES_LENGTH
BOOKING_COUNT = 120
SEED = 20261207
# The figure the issue asks for: find_free_slots over the month.
TARGET_MEDIAN_MS = 50


# Step 2: the provider and their calendar export.


def create_provider() -> tuple[Provider, AppointmentType]:
    """Create the practice, one provider with weekday hours, a consultation."""
    practice = Practice.objects.create(
        slug="bench",
        name="Benchmark Clinic",
        timezone=ZONE_NAME,
        currency="EUR",
        locale="en_IE",
        min_notice_minutes=0,
        horizon_days=365,
        slot_step_minutes=15,
    )
    consultation = AppointmentType.objects.create(
        practice=practice,
        slug="consultation",
        name="Consultation",
        duration_minutes=30,
        buffer_after_minutes=10,
    )
    provider = Provider.objects.create(
        practice=practice, slug="provider-1", name="Dr Provider 1"
    )
    WeeklyHours.objects.bulk_create(
        WeeklyHours(provider=provider, weekday=weekday, start_time=start, end_time=end)
        for weekday in range(5)
        for start, end in slots.DAY_HOURS
    )
    Service.objects.create(
        provider=provider, appointment_type=consultation, price_amount=8000
    )
    return provider, consultation


def plan_events(rng, first_day: date) -> list[tuple[datetime, timedelta, int]]:
    """Return (local start, length, weekly count) of each VEVENT to write.

    Series come first, each at a time of its own on one weekday for four
    weeks; single events fill free quarter-hours after. Events neither
    overlap nor touch, so each occurrence becomes one busy time.
    """
    taken: set[tuple[int, int]] = set()
    events = []
    last_series_day = WINDOW_DAYS - 1 - 7 * (SERIES_LENGTH - 1)
    while len(events) < SERIES + SINGLE_EVENTS:
        count = SERIES_LENGTH if len(events) < SERIES else 1
        day = rng.randrange(last_series_day + 1 if count > 1 else WINDOW_DAYS)
        days = [day + 7 * week for week in range(count)]
        first, length = free_place(rng, days, taken)
        start = datetime.combine(first_day + timedelta(days=day), OWN_DAY_START)
        events.append((start + first * QUARTER, length * QUARTER, count))
    return events


def free_place(rng, days: list[int], taken: set[tuple[int, int]]) -> tuple[int, int]:
    """Return a first quarter-hour and a length free on all `days`; take them."""
    for _ in range(PLACING_ATTEMPTS):
        length = rng.choice(EVENT_QUARTERS)
        first = rng.randrange(OWN_DAY_QUARTERS - length + 1)
        # The quarter-hour after an event stays free, so none touch.
        cells = [(day, first + n) for day in days for n in range(length + 1)]
        if taken.isdisjoint(cells):
            taken.update(cells)
            return first, length
    raise SystemExit("the calendar is too full to place another event")


def write_export(events) -> bytes:
    """Return an iCalendar export of the events, as Google Calendar writes one."""
    rng = random.Random(SEED)
    lines = [
        "BEGIN:VCALENDAR",
        "PRODID:-//Google Inc//Google Calendar 70.9054//EN",
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:Dr Provider 1",
        "X-WR-TIMEZONE:Europe/Dublin",
        "BEGIN:VTIMEZONE",
        "TZID:Europe/Dublin",
        "X-LIC-LOCATION:Europe/Dublin",
        "BEGIN:DAYLIGHT",
        "TZOFFSETFROM:+0000",
        "TZOFFSETTO:+0100",
        "TZNAME:IST",
        "DTSTART:19700329T010000",
        "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
        "END:DAYLIGHT",
        "BEGIN:STANDARD",
        "TZOFFSETFROM:+0100",
        "TZOFFSETTO:+0000",
        "TZNAME:GMT",
        "DTSTART:19701025T020000",
        "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
        "END:STANDARD",
        "END:VTIMEZONE",
    ]
    for number, (start, length, count) in enumerate(events, 1):
        end = start + length
        lines += [
            "BEGIN:VEVENT",
            f"DTSTART;TZID=Europe/Dublin:{start:%Y%m%dT%H%M%S}",
            f"DTEND;TZID=Europe/Dublin:{end:%Y%m%dT%H%M%S}",
        ]
        if count > 1:
            lines.append(f"RRULE:FREQ=WEEKLY;COUNT={count}")
        lines += [
            "DTSTAMP:20261201T090000Z",
            f"UID:{UUID(int=rng.getrandbits(128))}@google.com",
            "CREATED:20261120T151204Z",
            "DESCRIPTION:",
            "LAST-MODIFIED:20261201T085959Z",
            "LOCATION:",
            "SEQUENCE:0",
            "STATUS:CONFIRMED",
            f"SUMMARY:Busy {number}",
            "TRANSP:OPAQUE",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


# Step 3: the import, and bookings.


class ExportServer:
    """Serve one body at every path on 127.0.0.1, from a thread."""

    def __init__(self, body: bytes):
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/calendar; charset=UTF-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format, *args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http.server_port}/basic.ics"

    def stop(self) -> None:
        self.http.shutdown()
        self.http.server_close()


def add_bookings(rng, provider, consultation, first_day: date) -> None:
    """Insert BOOKING_COUNT confirmed bookings on the grid, never overlapping."""
    offer = slots.Offer(consultation, 8000, 1)
    days = [first_day + timedelta(days=offset) for offset in range(WINDOW_DAYS)]
    candidates = [
        start
        for day in days
        if day.weekday() < 5
        for start, _ in slots.plan_day(rng, day, [offer])
    ]
    Booking.objects.bulk_create(
        Booking(
            reference=f"BUSY{number:06d}",
            token_hash=hash_token(f"busy-bench-{number}"),
            provider=provider,
            appointment_type=consultation,
            status=Booking.Status.CONFIRMED,
            source=Booking.Source.WEB,
            start=start,
            end=start + offer.duration,
            blocked_start=start,
            blocked_end=start + offer.duration + offer.buffer_after,
            price_amount=offer.price_amount,
            currency="EUR",
            patient_timezone=ZONE_NAME,
        )
        for number, start in enumerate(sorted(rng.sample(candidates, BOOKING_COUNT)), 1)
    )


# Step 4: the query plan.


def imported_query(provider, window: Interval):
    """Return the imported busy time query that find_free_slots runs.

    A copy of the one in carebook.bookings.availability.busy_intervals; the
    report says when the two drift apart.
    """
    start, end = window.start - MARGIN, window.end + MARGIN
    return (
        ImportedBusyTime.objects.filter(
            provider=provider,
            start__lt=end,
            end__gt=start,
            start__gt=start - MAX_ROW_SPAN,
        )
        .order_by()
        .values_list("start", "end")
    )


def check_imported_query(provider, consultation, window, now) -> slots.QueryCheck:
    """EXPLAIN the query and look for the provider/start index."""
    query = imported_query(provider, window)
    index_name = next(
        index.name
        for index in ImportedBusyTime._meta.indexes
        if index.fields == ["provider", "start"]
    )
    options = {"analyze": True} if connection.vendor == "postgresql" else {}
    plan = query.explain(**options)
    statements = slots.executed_sql(
        lambda: find_free_slots(provider, consultation, window, now)
    )
    is_current = query.query.sql_with_params()[0] in statements
    return slots.QueryCheck(plan, index_name, index_name in plan, is_current)


# Step 5: the timings and the report.


def month_window(first_day: date) -> Interval:
    last = first_day + timedelta(days=WINDOW_DAYS)
    return Interval(
        datetime.combine(first_day, wall_time(0), tzinfo=ZONE),
        datetime.combine(last, wall_time(0), tzinfo=ZONE),
    )


def measure_all(provider, consultation, feed, export, window, now):
    """Time the three calls; return their measurements."""
    import_span = import_window(provider, now)
    return [
        slots.measure(
            f"find_free_slots, {WINDOW_DAYS} days",
            lambda: find_free_slots(provider, consultation, window, now),
            len,
        ),
        slots.measure(
            "parse and expand the export",
            lambda: busy_intervals_from_ics(
                export, import_span.start, import_span.end, ZONE_NAME
            ),
            len,
        ),
        slots.measure(
            "import_feed over HTTP",
            lambda: import_feed(feed, now),
            lambda result: result.busy_time_count,
        ),
    ]


def describe_run(now, setup_seconds, subject, check, measurements) -> dict[str, str]:
    """Return the facts a reader needs to compare this run with another."""
    provider, first_day, export = subject
    facts = {
        "run": (
            f"{now:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
            f"load average {os.getloadavg()[0]:.1f} at the end"
        ),
        "database": slots.database_label(),
        "export": (
            f"{EVENT_COUNT} events in {SINGLE_EVENTS + SERIES} VEVENTs "
            f"({SINGLE_EVENTS} single, {SERIES} weekly series of {SERIES_LENGTH}), "
            f"{len(export) / 1024:.0f} KiB"
        ),
        "stored": (
            f"{ImportedBusyTime.objects.filter(provider=provider).count()} imported "
            f"busy times, {Booking.objects.filter(provider=provider).count()} bookings"
        ),
        "setup": f"{setup_seconds:.1f} s (migrate, provider, first import, bookings)",
        "window": (
            f"provider {provider.pk}, consultation, {WINDOW_DAYS} days from "
            f"Monday {first_day} ({ZONE_NAME})"
        ),
        "index used": (
            f"{slots.yes_no(check.uses_index)}: {check.index_name} (provider, start)"
        ),
    }
    if not check.is_current:
        facts["warning"] = (
            "the EXPLAINed query is not the one find_free_slots runs; "
            "update imported_query in bench/busy.py"
        )
    verdict = "under" if measurements[0].median < TARGET_MEDIAN_MS else "OVER"
    facts["target"] = f"find_free_slots median {verdict} {TARGET_MEDIAN_MS} ms"
    return facts


def print_report(facts, measurements, plan: str) -> None:
    """Print the facts of the run, the timings table and the query plan."""
    width = max(len(name) for name in facts)
    for name, value in facts.items():
        print(f"{name:<{width}}  {value}")

    print()
    label_width = max(len(m.label) for m in measurements)
    print(
        f"{'measurement':<{label_width}}  {'runs':>4}  {'median ms':>9}  "
        f"{'p90 ms':>7}  {'max ms':>7}  {'result':>6}  {'queries':>7}"
    )
    for m in measurements:
        print(
            f"{m.label:<{label_width}}  {len(m.samples):>4}  {m.median:>9.2f}  "
            f"{m.p90:>7.2f}  {m.worst:>7.2f}  {m.slot_count:>6}  {m.query_count:>7}"
        )
    print()
    print("result: free slots; busy intervals parsed; busy times stored")

    print()
    print("Query plan of the imported busy time query behind find_free_slots:")
    for line in plan.splitlines():
        print(f"  {line}")


def main() -> None:
    """Load the data, check the query plan, time the calls and report."""
    now = timezone.now()
    began = time.perf_counter()
    slots.prepare_database()
    provider, consultation = create_provider()
    first_day = slots.next_monday(now)

    rng = random.Random(SEED)
    export = write_export(plan_events(rng, first_day))
    server = ExportServer(export)
    try:
        feed = BusyFeed.objects.create(provider=provider, url=server.url)
        first = import_feed(feed, now)
        if not first.succeeded:
            raise SystemExit(f"the first import failed: {first.error}")
        add_bookings(rng, provider, consultation, first_day)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        setup_seconds = time.perf_counter() - began

        provider = Provider.objects.select_related("practice").get(pk=provider.pk)
        consultation = AppointmentType.objects.select_related("practice").get(
            pk=consultation.pk
        )
        window = month_window(first_day)
        check = check_imported_query(provider, consultation, window, now)
        measurements = measure_all(provider, consultation, feed, export, window, now)
    finally:
        server.stop()

    facts = describe_run(
        now, setup_seconds, (provider, first_day, export), check, measurements
    )
    print_report(facts, measurements, check.plan)


if __name__ == "__main__":
    main()
