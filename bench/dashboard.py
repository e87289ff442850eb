"""Time the owner's dashboard on PostgreSQL with 1,000,000 bookings.

`bench/run` is the usual way in. On its own, from the project root, with
DATABASE_URL naming a PostgreSQL database whose name contains "bench" (it is
emptied first):

    CAREBOOK_VAR_DIR=$(mktemp -d) DATABASE_URL=postgres://.../carebook_bench \\
        .venv/bin/python -m bench.dashboard

1. Empty the database and migrate it.
2. Create a practice with 200 providers offering a consultation and a
   follow-up, and load 1,000,000 bookings over the last two years (and a
   month ahead) with COPY: each with its payment, its tries at paying
   (one in ten declined first) and, for cancellations, a refund.
3. Time compute_figures over the last 90 local days for the practice, one
   provider and one appointment type, then the dashboard page and the staff
   API over HTTP (Django's test client), counting every figure from the
   rows, and print a table.
4. Roll up every settled day, as the job worker does each hour, print how
   long that took, and time the same again with the roll-up.
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
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.utils import timezone

from bench.slots import create_type, pick, prepare_database
from carebook.analytics.figures import compute_figures
from carebook.analytics.filters import FigureFilter
from carebook.analytics.rollups import roll_up_days
from carebook.practice.models import Practice, Provider, Service, WeeklyHours
from carebook.staff.tokens import create_api_token

ZONE_NAME = "Europe/Dublin"
ZONE = ZoneInfo(ZONE_NAME)
PROVIDER_COUNT = 200
BOOKING_COUNT = 1_000_000
HISTORY_DAYS = 730
FUTURE_DAYS = 30
# Appointments start every 45 minutes from 08:00: ten a day, none overlap.
SLOTS_PER_DAY = 10
SLOT_GAP = timedelta(minutes=45)
RANGE_DAYS = 90
WARMUP_RUNS = 3
TIMED_RUNS = 20
TARGET_MS = 300
SEED = 20261203

PAST = {"completed": 80, "cancelled": 9, "no_show": 3, "expired": 8}
FUTURE = {"confirmed": 90, "cancelled": 7, "expired": 3}
SOURCES = {"web": 70, "staff": 25, "api": 5}
DECLINES = ["card_declined", "insufficient_funds", "expired_card"]


def main() -> None:
    if connection.vendor != "postgresql":
        raise SystemExit("this benchmark runs on PostgreSQL: set DATABASE_URL")
    prepare_database()
    print(f"PostgreSQL {connection.cursor().connection.info.server_version}")
    now = timezone.now()
    started = time.perf_counter()
    providers, types = create_practice()
    counts = load(random.Random(SEED), providers, types, now)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(
        f"loaded {counts['bookings']:,} bookings, {counts['payments']:,} payments, "
        f"{counts['attempts']:,} tries at paying and {counts['refunds']:,} refunds "
        f"for {PROVIDER_COUNT} providers in {time.perf_counter() - started:.0f} s"
    )

    today = now.astimezone(ZONE).date()
    start = today - timedelta(days=RANGE_DAYS - 1)
    practice_wide = FigureFilter(start, today, ZONE)
    figures = compute_figures(practice_wide)
    print(
        f"{RANGE_DAYS} days to {today}: {figures.bookings_made:,} bookings made, "
        f"{figures.attendance.appointments:,} appointments, "
        f"{figures.payments.attempts:,} tries at paying"
    )

    client, key = logged_in_owner()
    query = {"start": start.isoformat(), "end": today.isoformat()}
    cases = [
        ("compute_figures, practice", lambda: compute_figures(practice_wide)),
        (
            "compute_figures, one provider",
            lambda: compute_figures(
                FigureFilter(start, today, ZONE, provider_id=providers[0].pk)
            ),
        ),
        (
            "compute_figures, one type",
            lambda: compute_figures(
                FigureFilter(start, today, ZONE, appointment_type_id=types[0].pk)
            ),
        ),
        ("GET /staff/dashboard/", lambda: page(client, "/staff/dashboard/", query)),
        (
            "GET /api/v1/staff/dashboard",
            lambda: page(client, "/api/v1/staff/dashboard", query, key),
        ),
    ]
    print_timings("counted from the rows", cases)

    began = time.perf_counter()
    rolled = roll_up_days()
    print(f"\nrolled up {rolled} days in {time.perf_counter() - began:.1f} s")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    if compute_figures(practice_wide) != figures:
        raise SystemExit("the figures with the roll-up differ from the rows'")
    print_timings("with the roll-up of past days", cases)
    print()
    print(f"target: the {RANGE_DAYS}-day dashboard under {TARGET_MS} ms")


def print_timings(heading: str, cases) -> None:
    print()
    print(f"{heading:32} {'median':>9} {'p90':>9} {'worst':>9}   ({TIMED_RUNS} runs)")
    for label, call in cases:
        samples = timings(call)
        p90 = statistics.quantiles(samples, n=10, method="inclusive")[-1]
        print(
            f"{label:32} {statistics.median(samples):7.1f}ms {p90:7.1f}ms "
            f"{max(samples):7.1f}ms"
        )


def create_practice():
    practice = Practice.objects.create(
        slug="bench",
        name="Benchmark Clinic Group",
        timezone=ZONE_NAME,
        currency="EUR",
        locale="en_IE",
    )
    types = [
        create_type(practice, "consultation", 30, buffer_after=10),
        create_type(practice, "follow-up", 15),
    ]
    providers = Provider.objects.bulk_create(
        Provider(
            practice=practice,
            slug=f"provider-{number}",
            name=f"Dr Provider {number:03d}",
            specialty="General practice",
        )
        for number in range(1, PROVIDER_COUNT + 1)
    )
    WeeklyHours.objects.bulk_create(
        WeeklyHours(
            provider=provider, weekday=weekday, start_time="08:00", end_time="16:00"
        )
        for provider in providers
        for weekday in range(5)
    )
    Service.objects.bulk_create(
        Service(provider=provider, appointment_type=kind, price_amount=price)
        for provider in providers
        for kind, price in zip(types, (8000, 4500), strict=True)
    )
    return providers, types


def load(rng, providers, types, now) -> dict[str, int]:
    """COPY the bookings, payments, tries and refunds; return the counts."""
    counts = dict.fromkeys(["bookings", "payments", "attempts", "refunds"], 0)
    first_day = now.astimezone(ZONE).date() - timedelta(days=HISTORY_DAYS)
    days = [
        first_day + timedelta(days=offset)
        for offset in range(HISTORY_DAYS + FUTURE_DAYS)
    ]
    weekdays = [day for day in days if day.weekday() < 5]
    places = [(day, slot) for day in weekdays for slot in range(SLOTS_PER_DAY)]
    per_provider = BOOKING_COUNT // len(providers)

    with connection.cursor() as cursor:
        raw = cursor.connection
        with (
            raw.cursor() as bookings_cursor,
            raw.cursor() as payments_cursor,
            raw.cursor() as attempts_cursor,
            raw.cursor() as refunds_cursor,
        ):
            rows = generate(rng, providers, types, places, per_provider, now)
            bookings, payments, attempts, refunds = rows
            copy(
                bookings_cursor,
                "bookings_booking",
                BOOKING_COLUMNS,
                bookings,
                counts,
                "bookings",
            )
            copy(
                payments_cursor,
                "payments_payment",
                PAYMENT_COLUMNS,
                payments,
                counts,
                "payments",
            )
            copy(
                attempts_cursor,
                "payments_paymentattempt",
                ATTEMPT_COLUMNS,
                attempts,
                counts,
                "attempts",
            )
            copy(
                refunds_cursor,
                "payments_refund",
                REFUND_COLUMNS,
                refunds,
                counts,
                "refunds",
            )
        for table in (
            "bookings_booking",
            "payments_payment",
            "payments_paymentattempt",
            "payments_refund",
        ):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
    return counts


BOOKING_COLUMNS = (
    "id", "reference", "token_hash", "token_salt", "sequence", "provider_id",
    "appointment_type_id", "status", "source", "start", "end", "blocked_start",
    "blocked_end", "price_amount", "currency", "free_cancellation_hours",
    "late_cancellation_fee_percent", "patient_name", "patient_email",
    "patient_phone", "patient_timezone", "patient_language", "picker_opened_at",
    "held_at", "confirmed_at", "updated_at", "payment_plan",
)  # fmt: skip
PAYMENT_COLUMNS = (
    "id", "booking_id", "provider_id", "appointment_type_id", "gateway", "status",
    "amount", "currency",
    "refunded_amount", "disputed_amount", "checkout_token", "checkout_reference",
    "gateway_reference", "return_url", "created_at", "completed_at",
)  # fmt: skip
ATTEMPT_COLUMNS = (
    "payment_id", "provider_id", "appointment_type_id", "outcome",
    "decline_reason", "gateway_reference", "amount", "currency", "at",
)  # fmt: skip
REFUND_COLUMNS = (
    "payment_id", "provider_id", "appointment_type_id", "amount", "currency",
    "reason", "status", "last_error", "idempotency_key", "created_at",
    "completed_at",
)  # fmt: skip


def generate(rng, providers, types, places, per_provider, now):
    """Return four lists of rows: bookings, payments, tries, refunds."""
    bookings, payments, attempts, refunds = [], [], [], []
    number = 0
    for provider in providers:
        for day, slot in sorted(rng.sample(places, per_provider)):
            number += 1
            kind, price = (types[0], 8000) if rng.random() < 0.6 else (types[1], 4500)
            start = datetime.combine(day, datetime.min.time(), tzinfo=ZONE)
            start = (start + timedelta(hours=8) + slot * SLOT_GAP).astimezone(UTC)
            end = start + timedelta(minutes=kind.duration_minutes)
            status = pick(rng, PAST if end <= now else FUTURE)
            source = pick(rng, SOURCES)
            ahead = timedelta(days=rng.randint(0, 30), minutes=rng.randint(10, 900))
            held = start - ahead
            if held > now - timedelta(minutes=30):
                # Booked ahead, at any time of the last 30 days: as many are
                # made on each day, and none later than now.
                held = now - timedelta(minutes=rng.randint(30, 30 * 24 * 60))
            opened = held - timedelta(seconds=rng.randint(20, 600))
            confirmed = held + timedelta(seconds=rng.randint(30, 900))
            ever_confirmed = status != "expired"
            bookings.append((
                number, f"B{number:09d}", f"{number:064x}", "", 0, provider.pk,
                kind.pk, status, source, start, end, start,
                end + timedelta(minutes=kind.buffer_after_minutes), price, "EUR", 24,
                100, f"Patient {number}", f"patient{number}@example.test", "",
                ZONE_NAME, "en", opened if source != "staff" else None, held,
                confirmed if ever_confirmed else None, held,
                "desk" if source == "staff" else "online",
            ))  # fmt: skip
            if source == "staff":
                continue

            paid = ever_confirmed
            payment_status = "succeeded" if paid else "failed"
            completed = confirmed if paid else held + timedelta(minutes=30)
            refunded = price if status == "cancelled" else 0
            if refunded:
                payment_status = "refunded"
            payments.append((
                number, number, provider.pk, kind.pk, "demo", payment_status, price,
                "EUR", refunded, 0,
                f"bench-{number}", "", "", "/", held, completed,
            ))  # fmt: skip
            if rng.random() < 0.1 or not paid:
                attempts.append((
                    number, provider.pk, kind.pk, "declined", rng.choice(DECLINES),
                    "", price, "EUR", confirmed - timedelta(seconds=20),
                ))  # fmt: skip
            if paid:
                attempts.append((
                    number, provider.pk, kind.pk, "succeeded", "", "", price, "EUR",
                    confirmed,
                ))  # fmt: skip
            if refunded:
                refunded_at = min(start - timedelta(hours=rng.randint(1, 72)), now)
                refunded_at = max(refunded_at, confirmed + timedelta(minutes=5))
                refunds.append((
                    number, provider.pk, kind.pk, price, "EUR", "cancellation",
                    "succeeded", "",
                    f"bench-refund-{number}", refunded_at, refunded_at,
                ))  # fmt: skip
    return bookings, payments, attempts, refunds


def copy(cursor, table, columns, rows, counts, name) -> None:
    names = ", ".join(f'"{column}"' for column in columns)
    with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as stream:
        for row in rows:
            stream.write_row(row)
    counts[name] = len(rows)


def logged_in_owner() -> tuple[Client, str]:
    owner = get_user_model().objects.create_superuser("bench-owner")
    client = Client()
    client.force_login(owner)
    _, key = create_api_token(owner, "bench")
    return client, key


def page(client, address, query, key=None) -> None:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    response = client.get(address, query, headers=headers)
    if response.status_code != 200:
        raise SystemExit(f"{address} answered {response.status_code}")


def timings(call) -> list[float]:
    for _ in range(WARMUP_RUNS):
        call()
    samples = []
    for _ in range(TIMED_RUNS):
        began = time.perf_counter()
        call()
        samples.append((time.perf_counter() - began) * 1000)
    return samples


if __name__ == "__main__":
    main()
