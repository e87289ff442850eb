"""Real job workers: `manage.py run_huey` processes on the test database.

Each test gets a queue of its own, kept in SQLite (the default) or in Redis
(the `redis` marker), and starts as many workers on it as it needs.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection
from huey import RedisHuey, SqliteHuey

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
ROOT = Path(__file__).resolve().parents[2]


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
def start_worker(queue):
    """Return a function that starts a worker process on the queue.

    Its keyword arguments are added to the worker's environment. Every
    worker still running when the test ends is stopped.
    """
    _, env = queue
    processes = []

    def start_worker(**extra_env: str) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "run_huey", "--workers", "1", "--quiet"],
            cwd=ROOT,
            env={**env, **extra_env},
            stdout=subprocess.DEVNULL,
        )
        processes.append(process)
        return process

    yield start_worker
    for process in processes:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    """Stop a worker the way an operator would, killing it if it hangs."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def worker(start_worker):
    """Start one worker process on the queue; stop it after the test."""
    return start_worker()


def wait_until(condition, timeout=30.0):
    """Wait for another process to make `condition` true, or fail."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the worker did not finish in time"
        time.sleep(0.05)
