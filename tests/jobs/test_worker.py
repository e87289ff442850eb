"""A real job worker, in its own process, runs Carebook's jobs.

The worker is `manage.py run_huey` started as a separate process on the
test database, with the queue kept in SQLite (the default) or in Redis.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone
from huey import RedisHuey, SqliteHuey
from huey.contrib.djhuey import HUEY

from carebook.bookings.models import Booking
from carebook.bookings.tasks import expire_lapsed_holds_every_minute
from tests.factories import make_booking

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)


def database_url() -> str:
    """Return a DATABASE_URL that reaches this test run's database."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def queue(request, tmp_path):
    """Return a Huey queue and the environment of a worker that reads it."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CAREBOOK_VAR_DIR": str(tmp_path),
        "SECRET_KEY": settings.SECRET_KEY,
        "HUEY_NAME": name,
        "REDIS_URL": "",
    }
    if request.param == "redis":
        redis.Redis.from_url(REDIS_URL).ping()
        env["REDIS_URL"] = REDIS_URL
        yield RedisHuey(name, url=REDIS_URL), env
        redis.Redis.from_url(REDIS_URL).delete(*_redis_keys(name))
    else:
        yield SqliteHuey(name, filename=str(tmp_path / "jobs.sqlite3")), env


def _redis_keys(name: str) -> list[str]:
    keys = redis.Redis.from_url(REDIS_URL).keys(f"huey.*{name}*")
    return keys or ["nothing"]


@pytest.fixture
def worker(queue):
    """Start a worker process on the queue; stop it after the test."""
    _, env = queue
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_huey", "--workers", "1", "--quiet"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    yield process
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def test_worker_expires_lapsed_holds(
    provider, consultation, queue, worker, monkeypatch
):
    huey, _ = queue
    # Jobs queued by this process go where the worker reads.
    monkeypatch.setattr(HUEY, "storage", huey.storage)
    lapsed = make_hold(provider, consultation, expires_in=timedelta(minutes=-1))
    current = make_hold(provider, consultation, expires_in=timedelta(minutes=5))

    expire_lapsed_holds_every_minute()

    # Huey keeps no results of periodic tasks: watch the database instead.
    wait_until(lambda: status_of(lapsed) == "expired")
    assert (status_of(lapsed), status_of(current)) == ("expired", "held")
    assert len(huey) == 0


def status_of(booking) -> str:
    return Booking.objects.values_list("status", flat=True).get(pk=booking.pk)


def wait_until(condition, timeout=30.0):
    """Wait for another process to make `condition` true, or fail."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the worker did not finish in time"
        time.sleep(0.05)


def make_hold(provider, appointment_type, expires_in):
    start = timezone.now().replace(microsecond=0) + timedelta(days=30)
    if Booking.objects.exists():
        start += timedelta(hours=2)
    return make_booking(
        provider,
        appointment_type,
        start,
        status=Booking.Status.HELD,
        hold_expires_at=timezone.now() + expires_in,
    )
