"""Time the free-slots service and API against 100,000 bookings.

`bench/run` is the usual way in: it installs the packages and runs this once
on a fresh SQLite file and once on PostgreSQL. On its own, from the project
root, with DATABASE_URL naming a database it may empty:

    CAREBOOK_VAR_DIR=$(mktemp -d) .venv/bin/python -m bench.slots

1. Start from an empty database and migrate it. A SQLite file must not exist
   yet. A PostgreSQL database must have "bench" in its name; it is created
   when missing and its schema is dropped first.
2. Create a practice with 50 providers and bulk-insert 100,000 bookings on
   their slot grid, from 12 months ago to 3 months ahead.
3. EXPLAIN the bookings query behind find_free_slots.
4. Time find_free_slots and GET /api/v1/providers/{id}/slots for one
   provider over the 14 days from next Monday, and print a table.
"""

# Django must be set up before the models are imported.
# ruff: noqa: E402

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carebook.settings")
# django.test.Client sends requests to the host "testserver".
os.environ["ALLOWED_HOSTS"] = "testserver,localhost"

import django

django.setup()

import random
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as wall_time
from itertools import count, islice
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import psycopg
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone
from psycopg import sql

from carebook.bookings.availability import MARGIN, find_free_slots
from carebook.bookings.models import Booking, hash_token
from carebook.practice.models import (
    AppointmentType,
    Practice,
    Provider,
    Service,
    WeeklyHours,
)
from carebook.scheduling import Interval

ZONE_NAME = "Europe/Dublin"
ZONE = ZoneInfo(ZONE_NAME)
STEP = timedelta(minutes=15)
DAY_HOURS = ((wall_time(8), wall_time(12, 30)), (wall_time(13, 30), wall_time(18)))

PROVIDER_COUNT = 50
BOOKING_COUNT = 100_000
BATCH_SIZE = 5_000
HISTORY_DAYS = 365
FUTURE_DAYS = 92
# Chance that a free point of the slot grid starts a booking. It yields about
# 9 bookings a working day, more than needed; each provider keeps a random
# sample of them.
PLACE_CHANCE = 0.35
SEED = 20261203

WINDOW_DAYS = 14
WARMUP_RUNS = 3
TIMED_RUNS = 50
# Above this median, find_free_slots is too slow for a page that shows slots.
SLOW_MEDIAN_MS = 30

Status = Booking.Status
PAST_STATUSES = {
    Status.COMPLETED: 82,
    Status.CANCELLED: 9,
    Status.EXPIRED: 5,
    Status.NO_SHOW: 3,
    Status.HELD: 1,  # lapsed holds the expiry job has not swept yet
}
FUTURE_STATUSES = {
    Status.CONFIRMED: 86,
    Status.CANCELLED: 8,
    Status.EXPIRED: 2,
    Status.PENDING_PAYMENT: 2,
    Status.HELD: 2,
}
SOURCES = {Booking.Source.WEB: 70, Booking.Source.STAFF: 25, Booking.Source.API: 5}
HOLD_MINUTES = {Status.HELD: 10, Status.PENDING_PAYMENT: 30, Status.EXPIRED: 10}
# Statuses a booking reaches through a confirmation; most cancellations
# come after one.
CONFIRMED_STATUSES = {
    Status.CONFIRMED,
    Status.COMPLETED,
    Status.NO_SHOW,
    Status.CANCELLED,
}


@dataclass(frozen=True)
class Offer:
    """An appointment type as the load sees it: length, price and share."""

    appointment_type: AppointmentType
    price_amount: int
    share: int

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.appointment_type.duration_minutes)

    @property
    def buffer_before(self) -> timedelta:
        return timedelta(minutes=self.appointment_type.buffer_before_minutes)

    @property
    def buffer_after(self) -> timedelta:
        return timedelta(minutes=self.appointment_type.buffer_after_minutes)


@dataclass(frozen=True)
class Measurement:
    """The timings of one call, in milliseconds, and what it returned."""

    label: str
    samples: list[float]
    slot_count: int
    query_count: int

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p90(self) -> float:
        return statistics.quantiles(self.samples, n=10, method="inclusive")[-1]

    @property
    def worst(self) -> float:
        return max(self.samples)


# Step 1: an empty, migrated database.


def prepare_database() -> None:
    """Empty the benchmark database, refusing any other, and migrate it."""
    if connection.vendor == "postgresql":
        reset_postgresql()
    else:
        check_fresh_sqlite()
    call_command("migrate", interactive=False, verbosity=0)


def check_fresh_sqlite() -> None:
    """Stop unless the SQLite file is yet to be created."""
    path = Path(settings.DATABASES["default"]["NAME"])
    if path.exists():
        raise SystemExit(
            f"{path} exists; the benchmark needs a fresh SQLite file "
            "(set CAREBOOK_VAR_DIR to an empty folder)"
        )


def reset_postgresql() -> None:
    """Create the benchmark database when missing and drop its schema."""
    database = settings.DATABASES["default"]
    name = database["NAME"]
    if "bench" not in name:
        raise SystemExit(
            f"refusing to empty the database {name!r}: the benchmark only "
            "empties databases with 'bench' in their name"
        )

    server = {
        key: str(database[setting])
        for key, setting in [
            ("host", "HOST"),
            ("port", "PORT"),
            ("user", "USER"),
            ("password", "PASSWORD"),
        ]
        if database.get(setting)
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
        found = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if found is None:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    with connection.cursor() as cursor:
        cursor.execute("DROP SCHEMA IF EXISTS public CASCADE")
        cursor.execute("CREATE SCHEMA public")


# Step 2: a practice and its bookings.


def create_practice() -> tuple[list[Provider], list[Offer]]:
    """Create the practice, its 50 providers, their hours and two offers."""
    practice = Practice.objects.create(
        slug="bench",
        name="Benchmark Clinic",
        timezone=ZONE_NAME,
        currency="EUR",
        locale="en_IE",
        min_notice_minutes=0,
        horizon_days=365,
        slot_step_minutes=int(STEP.total_seconds() // 60),
    )
    offers = [
        Offer(create_type(practice, "consultation", 30, buffer_after=10), 8000, 60),
        Offer(create_type(practice, "follow-up", 15), 4500, 40),
    ]

    providers = Provider.objects.bulk_create(
        Provider(
            practice=practice,
            slug=f"provider-{number}",
            name=f"Dr Provider {number}",
            specialty="General practice",
        )
        for number in range(1, PROVIDER_COUNT + 1)
    )
    WeeklyHours.objects.bulk_create(
        WeeklyHours(provider=provider, weekday=weekday, start_time=start, end_time=end)
        for provider in providers
        for weekday in range(5)
        for start, end in DAY_HOURS
    )
    Service.objects.bulk_create(
        Service(
            provider=provider,
            appointment_type=offer.appointment_type,
            price_amount=offer.price_amount,
        )
        for provider in providers
        for offer in offers
    )
    return providers, offers


def create_type(practice, slug, minutes, buffer_after=0) -> AppointmentType:
    """Create one appointment type of the practice."""
    return AppointmentType.objects.create(
        practice=practice,
        slug=slug,
        name=slug.replace("-", " ").capitalize(),
        duration_minutes=minutes,
        buffer_after_minutes=buffer_after,
    )


def load_bookings(rng, providers, offers, now) -> None:
    """Insert BOOKING_COUNT bookings in batches, in one transaction."""
    bookings = new_bookings(rng, providers, offers, now)
    with transaction.atomic():
        while batch := list(islice(bookings, BATCH_SIZE)):
            Booking.objects.bulk_create(batch, batch_size=BATCH_SIZE)

    # Autovacuum would analyse the table soon after such a load.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def new_bookings(rng, providers, offers, now) -> Iterator[Booking]:
    """Yield each provider's share of bookings, unsaved, earliest first."""
    today = now.astimezone(ZONE).date()
    days = working_days(
        today - timedelta(days=HISTORY_DAYS), today + timedelta(days=FUTURE_DAYS)
    )
    per_provider = BOOKING_COUNT // len(providers)
    numbers = count(1)

    for provider in providers:
        candidates = [placed for day in days for placed in plan_day(rng, day, offers)]
        if len(candidates) < per_provider:
            raise SystemExit("PLACE_CHANCE is too low to place every booking")
        for start, offer in sorted(rng.sample(candidates, per_provider)):
            yield new_booking(rng, next(numbers), provider, offer, start, now)


def working_days(first: date, last: date) -> list[date]:
    """Return the weekdays from `first` to `last` inclusive."""
    days = (first + timedelta(days=offset) for offset in range((last - first).days + 1))
    return [day for day in days if day.weekday() < 5]


def plan_day(rng, day: date, offers: list[Offer]) -> list[tuple[datetime, Offer]]:
    """Return bookings on one day's slot grid that never overlap, buffers too."""
    planned = []
    free_from = None
    shares = [offer.share for offer in offers]
    for wall_start, wall_end in DAY_HOURS:
        start = datetime.combine(day, wall_start, tzinfo=ZONE)
        end = datetime.combine(day, wall_end, tzinfo=ZONE)
        while start < end:
            offer = rng.choices(offers, shares)[0]
            fits = start + offer.duration <= end and (
                free_from is None or start - offer.buffer_before >= free_from
            )
            if fits and rng.random() < PLACE_CHANCE:
                planned.append((start.astimezone(UTC), offer))
                free_from = start + offer.duration + offer.buffer_after
            start += STEP
    return planned


def new_booking(rng, number, provider, offer, start, now) -> Booking:
    """Return one unsaved booking with a status that suits its date."""
    end = start + offer.duration
    status = pick(rng, PAST_STATUSES if end <= now else FUTURE_STATUSES)
    held_at = hold_time(rng, status, start, now)
    return Booking(
        reference=f"BENCH{number:07d}",
        token_hash=hash_token(f"bench-{number}"),
        provider=provider,
        appointment_type=offer.appointment_type,
        status=status,
        source=pick(rng, SOURCES),
        start=start,
        end=end,
        blocked_start=start - offer.buffer_before,
        blocked_end=end + offer.buffer_after,
        hold_expires_at=(
            held_at + timedelta(minutes=HOLD_MINUTES[status])
            if status in HOLD_MINUTES
            else None
        ),
        price_amount=offer.price_amount,
        currency="EUR",
        patient_name=f"Patient {number}",
        patient_email=f"patient{number}@example.test",
        patient_timezone=ZONE_NAME,
        picker_opened_at=held_at - timedelta(minutes=2),
        held_at=held_at,
        confirmed_at=(
            held_at + timedelta(minutes=3) if status in CONFIRMED_STATUSES else None
        ),
    )


def hold_time(rng, status, start, now) -> datetime:
    """Return when a booking was held: minutes ago for a live hold."""
    if start > now and status in (Status.HELD, Status.PENDING_PAYMENT):
        return now - timedelta(minutes=rng.randint(0, 5))
    booked_ahead = timedelta(days=rng.randint(1, 30), minutes=rng.randint(0, 600))
    return min(start - booked_ahead, now - timedelta(hours=1))


def pick(rng, weights: dict):
    """Return one key of `weights`, chosen in proportion to its value."""
    return rng.choices(list(weights), list(weights.values()))[0]


# Step 3: the query plan.


@dataclass(frozen=True)
class QueryCheck:
    """What EXPLAIN says about the bookings query behind find_free_slots."""

    plan: str
    index_name: str
    uses_index: bool
    # Whether bookings_query still builds the SQL that find_free_slots runs.
    is_current: bool


def bookings_query(provider, window: Interval, now):
    """Return the bookings query that find_free_slots runs for `window`.

    A copy of the query in carebook.bookings.availability.busy_intervals,
    which builds it inside the function; check_bookings_query tells when the
    two drift apart.
    """
    start, end = window.start - MARGIN, window.end + MARGIN
    return (
        Booking.objects.filter(provider=provider)
        .holding_time(now)
        .overlapping(start, end)
        .exclude(pk=None)
        .order_by()
        .values_list("blocked_start", "blocked_end")
    )


def check_bookings_query(provider, appointment_type, window, now) -> QueryCheck:
    """EXPLAIN the bookings query and look for the provider/blocked_start index."""
    query = bookings_query(provider, window, now)
    index_name = next(
        index.name
        for index in Booking._meta.indexes
        if index.fields == ["provider", "blocked_start"]
    )
    options = {"analyze": True} if connection.vendor == "postgresql" else {}
    plan = query.explain(**options)

    statements = executed_sql(
        lambda: find_free_slots(provider, appointment_type, window, now)
    )
    is_current = query.query.sql_with_params()[0] in statements
    return QueryCheck(plan, index_name, index_name in plan, is_current)


def executed_sql(call: Callable) -> list[str]:
    """Return the SQL statements, without their parameters, that `call` runs."""
    statements = []

    def note(execute, statement, params, many, context):
        statements.append(statement)
        return execute(statement, params, many, context)

    # A wrapper, unlike connection.queries, survives the reconnection and the
    # query log reset that every request through the test client causes.
    with connection.execute_wrapper(note):
        call()
    return statements


# Step 4: the timings.


def measure(label, call: Callable, count_slots: Callable) -> Measurement:
    """Time `call` after warming it up; count its slots and its queries."""
    for _ in range(WARMUP_RUNS):
        call()
    query_count = len(executed_sql(call))

    samples = []
    for _ in range(TIMED_RUNS):
        began = time.perf_counter()
        result = call()
        samples.append((time.perf_counter() - began) * 1000)
    return Measurement(label, samples, count_slots(result), query_count)


def measure_service(provider, appointment_type, window, now) -> Measurement:
    """Time find_free_slots, its ORM queries included."""
    return measure(
        "find_free_slots",
        lambda: find_free_slots(provider, appointment_type, window, now),
        len,
    )


def measure_api(provider, appointment_type, first_day) -> Measurement:
    """Time the whole slots request through Django's test client."""
    query = urlencode(
        {
            "appointment_type": appointment_type.slug,
            "start": first_day.isoformat(),
            "end": (first_day + timedelta(days=WINDOW_DAYS - 1)).isoformat(),
        }
    )
    url = f"/api/v1/providers/{provider.pk}/slots?{query}"
    client = Client()

    def count_slots(response) -> int:
        if response.status_code != 200:
            raise SystemExit(f"GET {url} answered {response.status_code}")
        return len(response.json()["slots"])

    return measure(
        "GET /api/v1/providers/{id}/slots", lambda: client.get(url), count_slots
    )


def next_monday(now) -> date:
    """Return the first Monday after today in the practice's zone."""
    today = now.astimezone(ZONE).date()
    return today + timedelta(days=7 - today.weekday())


def day_window(first_day: date) -> Interval:
    """Return WINDOW_DAYS whole days from `first_day` in the practice's zone."""
    last = first_day + timedelta(days=WINDOW_DAYS)
    return Interval(
        datetime.combine(first_day, wall_time(0), tzinfo=ZONE),
        datetime.combine(last, wall_time(0), tzinfo=ZONE),
    )


# The report.


def describe_run(now, durations, subject, check, measurements) -> dict[str, str]:
    """Return the facts a reader needs to compare this run with another."""
    migrate_seconds, load_seconds = durations
    provider, appointment_type, first_day = subject
    facts = {
        "run": (
            f"{now:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
            f"load average {os.getloadavg()[0]:.1f} at the end"
        ),
        "database": database_label(),
        "bookings": (
            f"{Booking.objects.count():,} for {PROVIDER_COUNT} providers, "
            f"{HISTORY_DAYS} days back to {FUTURE_DAYS} days ahead"
        ),
        "migrate": f"{migrate_seconds:.1f} s",
        "data load": (
            f"{load_seconds:.1f} s (practice, then bulk_create in batches "
            f"of {BATCH_SIZE:,})"
        ),
        "window": (
            f"provider {provider.pk}, {appointment_type.slug}, {WINDOW_DAYS} days "
            f"from Monday {first_day} ({ZONE_NAME})"
        ),
        "index used": (
            f"{yes_no(check.uses_index)}: {check.index_name} (provider, blocked_start)"
        ),
    }
    if not check.is_current:
        facts["warning"] = (
            "the EXPLAINed query is not the one find_free_slots runs; "
            "update bookings_query in bench/slots.py"
        )
    if measurements[0].median > SLOW_MEDIAN_MS:
        facts["slow"] = (
            f"find_free_slots median is over {SLOW_MEDIAN_MS} ms; see bench/README.md"
        )
    return facts


def yes_no(answer: bool) -> str:
    return "yes" if answer else "NO"


def database_label() -> str:
    """Return the database's vendor and version."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0].split()[0]
        return f"PostgreSQL {version} ({settings.DATABASES['default']['NAME']})"
    return f"SQLite {connection.Database.sqlite_version}"


def print_report(facts: dict[str, str], measurements: list[Measurement], plan: str):
    """Print the facts of the run, the timings table and the query plan."""
    width = max(len(name) for name in facts)
    for name, value in facts.items():
        print(f"{name:<{width}}  {value}")

    print()
    label_width = max(len(m.label) for m in measurements)
    print(
        f"{'measurement':<{label_width}}  {'runs':>4}  {'median ms':>9}  "
        f"{'p90 ms':>7}  {'max ms':>7}  {'slots':>5}  {'queries':>7}"
    )
    for m in measurements:
        print(
            f"{m.label:<{label_width}}  {len(m.samples):>4}  {m.median:>9.2f}  "
            f"{m.p90:>7.2f}  {m.worst:>7.2f}  {m.slot_count:>5}  {m.query_count:>7}"
        )

    print()
    print("Query plan of the bookings query behind find_free_slots:")
    for line in plan.splitlines():
        print(f"  {line}")


def load_data(now) -> tuple[float, float]:
    """Migrate an empty database and load the practice and its bookings.

    Return the seconds that the migration and the load took.
    """
    began = time.perf_counter()
    prepare_database()
    migrated = time.perf_counter()

    providers, offers = create_practice()
    load_bookings(random.Random(SEED), providers, offers, now)
    return migrated - began, time.perf_counter() - migrated


def main() -> None:
    """Load the data, check the query plan, time the two calls and report."""
    now = timezone.now()
    durations = load_data(now)

    # Loaded as the API loads them, so that no timed call fetches a practice.
    provider = Provider.objects.select_related("practice").order_by("pk").first()
    appointment_type = AppointmentType.objects.select_related("practice").get(
        slug="consultation"
    )
    first_day = next_monday(now)
    window = day_window(first_day)

    check = check_bookings_query(provider, appointment_type, window, now)
    measurements = [
        measure_service(provider, appointment_type, window, now),
        measure_api(provider, appointment_type, first_day),
    ]
    subject = (provider, appointment_type, first_day)
    facts = describe_run(now, durations, subject, check, measurements)
    print_report(facts, measurements, check.plan)


if __name__ == "__main__":
    main()
