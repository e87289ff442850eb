"""Time POST /api/v1/bookings while the mail server answers 5 seconds late.

A booking writes its emails to the outbox and a job worker sends them after
the commit, so a slow mail server should cost the patient nothing. This
measures it. `bench/run` is the usual way in; on its own, from the project
root, with REDIS_URL set to keep the queue in Redis instead of SQLite:

    CAREBOOK_VAR_DIR=$(mktemp -d) .venv/bin/python -m bench.booking_api

1. Start from a fresh SQLite file in CAREBOOK_VAR_DIR and migrate it.
2. Create a practice with 10 providers, each offering a free 30 minute
   consultation.
3. Start an SMTP server (aiosmtpd, in a thread of this process) that accepts
   each message 5 seconds after its data arrives, and a job worker process
   (`manage.py run_huey`, 2 threads) on the same database and queue, sending
   to that server. This process sends to it too, so any email sent inside a
   request would show in the timings.
4. Book 200 slots through POST /api/v1/bookings with Django's test client,
   timing each request with perf_counter.
5. Wait until the worker has delivered every email that is due, and print
   the timings and the deliveries.
"""

# Settings are read when Django starts: the mail server's address and the
# queue's name must be in the environment before.
# ruff: noqa: E402

import os
import socket
import uuid


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


SMTP_PORT = free_port()
os.environ["EMAIL_URL"] = f"smtp://127.0.0.1:{SMTP_PORT}"
os.environ["HUEY_NAME"] = f"bench-{uuid.uuid4().hex[:8]}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carebook.settings")
# django.test.Client sends requests to the host "testserver".
os.environ["ALLOWED_HOSTS"] = "testserver,localhost"
# Two log lines per booking would bury the report.
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django

django.setup()

import asyncio
import re
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as wall_time
from pathlib import Path
from zoneinfo import ZoneInfo

import redis
from aiosmtpd.controller import Controller
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from carebook.notifications.models import OutboxMessage
from carebook.notifications.tasks import requeue_due_messages_every_minute
from carebook.practice.models import (
    AppointmentType,
    Practice,
    Provider,
    Service,
    WeeklyHours,
)

ROOT = Path(__file__).resolve().parent.parent
ZONE_NAME = "Europe/Dublin"
ZONE = ZoneInfo(ZONE_NAME)
DAY_HOURS = (wall_time(8), wall_time(18))
APPOINTMENT = timedelta(minutes=30)

PROVIDER_COUNT = 10
BOOKING_COUNT = 200
ACCEPT_SECONDS = 5
WORKER_THREADS = 2
# How long to wait for the worker beyond the least it could need.
DELIVERY_SLACK_SECONDS = 180
# Above this p99, a slow mail server is reaching the patient.
SLOW_P99_MS = 100


# Step 3: the slow mail server and the worker.


@dataclass
class SlowMailbox:
    """An aiosmtpd handler that accepts each message ACCEPT_SECONDS late.

    The wait does not hold up other sessions, so the worker's threads are
    served side by side, as by a real server.
    """

    recipients: Counter = field(default_factory=Counter)
    last_arrival: float = 0.0

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(ACCEPT_SECONDS)
        self.recipients.update(envelope.rcpt_tos)
        self.last_arrival = time.perf_counter()
        return "250 Message accepted"

    @property
    def arrived(self) -> int:
        return sum(self.recipients.values())


def start_worker(log_path: Path) -> subprocess.Popen:
    """Start `manage.py run_huey` on this run's database, queue and server."""
    with log_path.open("w") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "run_huey",
                "--workers",
                str(WORKER_THREADS),
                "--worker-type",
                "thread",
            ],
            cwd=ROOT,
            env={**os.environ, "LOG_LEVEL": "INFO"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def wait_for_worker(worker: subprocess.Popen, timeout: float = 60) -> float:
    """Wait until the worker takes jobs; return how long that took.

    The probe is a sweep of the outbox, which finds nothing to do yet.
    """
    began = time.perf_counter()
    requeue_due_messages_every_minute()
    while HUEY.pending_count():
        if worker.poll() is not None:
            raise SystemExit(f"the worker stopped (exit code {worker.returncode})")
        if time.perf_counter() - began > timeout:
            raise SystemExit(f"the worker took no job within {timeout} s")
        time.sleep(0.1)
    return time.perf_counter() - began


def stop_worker(worker: subprocess.Popen) -> None:
    worker.send_signal(signal.SIGINT)
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


# Steps 1 and 2: the database and the practice.


def prepare_database() -> None:
    """Migrate a SQLite file that does not exist yet; refuse anything else."""
    if connection.vendor != "sqlite":
        raise SystemExit("this benchmark runs on SQLite only")
    path = Path(settings.DATABASES["default"]["NAME"])
    if path.exists():
        raise SystemExit(
            f"{path} exists; the benchmark needs a fresh SQLite file "
            "(set CAREBOOK_VAR_DIR to an empty folder)"
        )
    call_command("migrate", interactive=False, verbosity=0)


def create_practice() -> list[Provider]:
    """Create the practice and its providers, free consultations and hours."""
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
        duration_minutes=int(APPOINTMENT.total_seconds() // 60),
    )
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
        WeeklyHours(
            provider=provider,
            weekday=weekday,
            start_time=DAY_HOURS[0],
            end_time=DAY_HOURS[1],
        )
        for provider in providers
        for weekday in range(5)
    )
    Service.objects.bulk_create(
        Service(provider=provider, appointment_type=consultation, price_amount=0)
        for provider in providers
    )
    return providers


def booking_requests(providers: list[Provider], day: date) -> list[dict]:
    """Return BOOKING_COUNT request bodies for free slots on `day`."""
    first = datetime.combine(day, DAY_HOURS[0], tzinfo=ZONE)
    last = datetime.combine(day, DAY_HOURS[1], tzinfo=ZONE)
    starts = []
    start = first
    while start + APPOINTMENT <= last:
        starts.append(start)
        start += APPOINTMENT
    if len(starts) * len(providers) < BOOKING_COUNT:
        raise SystemExit("one working day has too few slots for BOOKING_COUNT")

    slots = [(provider, start) for start in starts for provider in providers]
    return [
        {
            "provider": provider.pk,
            "appointment_type": "consultation",
            "start": start.isoformat(),
            "patient": {
                "name": f"Patient {number}",
                "email": f"patient{number}@example.com",
            },
        }
        for number, (provider, start) in enumerate(slots[:BOOKING_COUNT], start=1)
    ]


def working_day_after_tomorrow(now) -> date:
    """Return the first weekday at least two days after today, in the zone."""
    day = now.astimezone(ZONE).date() + timedelta(days=2)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


# Step 4: the timings.


def book_all(requests: list[dict]) -> list[float]:
    """Post every booking request; return each one's time in milliseconds."""
    client = Client()
    samples = []
    for body in requests:
        began = time.perf_counter()
        answer = client.post("/api/v1/bookings", body, content_type="application/json")
        samples.append((time.perf_counter() - began) * 1000)
        if answer.status_code != 201:
            raise SystemExit(
                f"POST /api/v1/bookings answered {answer.status_code}: "
                f"{answer.content[:200]!r}"
            )
    return samples


# Step 5: the deliveries.


@dataclass(frozen=True)
class Deliveries:
    due: int
    reminders: int
    sent: int
    arrived: int
    arrived_twice: int
    last_arrival_seconds: float
    waited_seconds: float


def requeued_by_sweeps(log_path: Path) -> int:
    """Return how many rows the worker's minute sweeps handed the queue.

    Read from the worker's log line "Requeued N due outbox messages". Here
    the queue loses nothing, so each one is a second job for a row that is
    still waiting its turn.
    """
    found = re.findall(r"Requeued (\d+) due outbox messages", log_path.read_text())
    return sum(int(count) for count in found)


def due_messages():
    """Return the outbox rows due by now: all but the reminders."""
    return OutboxMessage.objects.filter(next_attempt_at__lte=timezone.now())


def wait_for_deliveries(mailbox: SlowMailbox, began: float) -> Deliveries:
    """Wait, within a bound, until every due email has arrived and is sent."""
    due = due_messages().count()
    least = due * ACCEPT_SECONDS / WORKER_THREADS
    deadline = time.perf_counter() + least + DELIVERY_SLACK_SECONDS
    waiting_since = time.perf_counter()
    while True:
        sent = due_messages().filter(status=OutboxMessage.Status.SENT).count()
        if (mailbox.arrived >= due and sent == due) or time.perf_counter() > deadline:
            break
        time.sleep(1)
    return Deliveries(
        due=due,
        reminders=OutboxMessage.objects.count() - due,
        sent=sent,
        arrived=mailbox.arrived,
        arrived_twice=sum(1 for n in mailbox.recipients.values() if n > 1),
        last_arrival_seconds=mailbox.last_arrival - began,
        waited_seconds=time.perf_counter() - waiting_since,
    )


# The report.


def percentile(samples: list[float], share: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[share - 1]


def queue_label() -> str:
    if settings.REDIS_URL:
        version = redis.Redis.from_url(settings.REDIS_URL).info()["redis_version"]
        return f"Redis {version} at {settings.REDIS_URL}"
    return f"SQLite ({settings.HUEY['filename']})"


def print_report(
    facts: dict[str, str], samples: list[float], deliveries, requeued: int
) -> None:
    width = max(len(name) for name in facts)
    for name, value in facts.items():
        print(f"{name:<{width}}  {value}")

    print()
    print(
        f"{'measurement':<22}  {'requests':>8}  {'median ms':>9}  {'p90 ms':>7}  "
        f"{'p99 ms':>7}  {'max ms':>7}"
    )
    print(
        f"{'POST /api/v1/bookings':<22}  {len(samples):>8}  "
        f"{statistics.median(samples):>9.2f}  {percentile(samples, 90):>7.2f}  "
        f"{percentile(samples, 99):>7.2f}  {max(samples):>7.2f}"
    )
    slowest = samples.index(max(samples)) + 1
    print(f"(the slowest was request {slowest} of {len(samples)})")

    print()
    d = deliveries
    least = d.due * ACCEPT_SECONDS / WORKER_THREADS
    lines = {
        "emails due": (
            f"{d.due} outbox rows ({d.reminders} reminders wait for the day "
            "before their appointment)"
        ),
        "emails arrived": (
            f"{d.arrived} of {d.due}, {d.arrived_twice} more than once; "
            f"{d.sent} rows marked sent"
        ),
        "last arrival": (
            f"{d.last_arrival_seconds:.1f} s after the first request "
            f"(the least possible: {d.due} x {ACCEPT_SECONDS} s / "
            f"{WORKER_THREADS} threads = {least:.0f} s)"
        ),
        "sweep requeues": (
            f"{requeued} jobs for rows still waiting in the queue, handed to it "
            "again by the minute sweep"
        ),
    }
    if d.arrived < d.due or d.sent < d.due:
        lines["warning"] = f"gave up waiting after {d.waited_seconds:.0f} s"
    if percentile(samples, 99) > SLOW_P99_MS:
        lines["slow"] = f"p99 is over {SLOW_P99_MS} ms; see bench/README.md"
    width = max(len(name) for name in lines)
    for name, value in lines.items():
        print(f"{name:<{width}}  {value}")


def clean_queue() -> None:
    """Delete this run's keys from Redis; a SQLite queue goes with its folder."""
    if settings.REDIS_URL:
        client = redis.Redis.from_url(settings.REDIS_URL)
        keys = client.keys(f"huey.*{settings.HUEY['name']}*")
        if keys:
            client.delete(*keys)


def main() -> None:
    """Set up, book while the worker sends, wait for the emails, report."""
    now = timezone.now()
    prepare_database()
    providers = create_practice()
    day = working_day_after_tomorrow(now)
    requests = booking_requests(providers, day)

    mailbox = SlowMailbox()
    server = Controller(mailbox, hostname="127.0.0.1", port=SMTP_PORT)
    server.start()
    worker_log = Path(settings.VAR_DIR) / "worker.log"
    worker = start_worker(worker_log)
    try:
        worker_start_seconds = wait_for_worker(worker)
        began = time.perf_counter()
        samples = book_all(requests)
        deliveries = wait_for_deliveries(mailbox, began)
    finally:
        stop_worker(worker)
        server.stop()
        clean_queue()

    facts = {
        "run": (
            f"{now:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
            f"load average {os.getloadavg()[0]:.1f} at the end"
        ),
        "database": f"SQLite {connection.Database.sqlite_version}",
        "queue": queue_label(),
        "mail server": (
            f"aiosmtpd on 127.0.0.1:{SMTP_PORT}, each message accepted "
            f"{ACCEPT_SECONDS} s after its data"
        ),
        "worker": (
            f"manage.py run_huey, {WORKER_THREADS} threads, took jobs "
            f"{worker_start_seconds:.1f} s after its start"
        ),
        "bookings": (
            f"{len(requests)} free consultations with {PROVIDER_COUNT} providers "
            f"on {day:%A} {day} ({ZONE_NAME})"
        ),
    }
    print_report(facts, samples, deliveries, requeued_by_sweeps(worker_log))


if __name__ == "__main__":
    main()
