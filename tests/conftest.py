"""Shared fixtures: a small practice whose hours and prices tests can rely on.

The clinic is in Europe/Dublin and charges EUR. Dr Ada Lovelace works
Monday to Friday 09:00–12:30 and 13:30–17:00, offers a 30 minute
consultation (10 minute buffer after) at 80.00 EUR and a 15 minute
follow-up at 45.00 EUR. Bookings need 2 hours' notice and may be made up to
60 days ahead, on a 15 minute grid.
"""

from datetime import UTC, datetime, time

import pytest
import time_machine
from huey.contrib.djhuey import HUEY
from huey.storage import MemoryStorage

from carebook.practice.models import (
    AppointmentType,
    Practice,
    Provider,
    Service,
    WeeklyHours,
)
from tests.smtp import SmtpServer

# Monday 7 December 2026, 08:00 in Dublin (UTC+0 in winter).
MONDAY_MORNING = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


@pytest.fixture
def now():
    """Freeze time at MONDAY_MORNING for the whole test."""
    with time_machine.travel(MONDAY_MORNING, tick=False) as traveller:
        yield traveller


@pytest.fixture
def practice(db):
    return Practice.objects.create(
        slug="riverside",
        name="Riverside Clinic",
        timezone="Europe/Dublin",
        currency="EUR",
        locale="en_IE",
        min_notice_minutes=120,
        horizon_days=60,
        slot_step_minutes=15,
    )


@pytest.fixture
def consultation(practice):
    return AppointmentType.objects.create(
        practice=practice,
        slug="consultation",
        name="Consultation",
        duration_minutes=30,
        buffer_after_minutes=10,
    )


@pytest.fixture
def follow_up(practice):
    return AppointmentType.objects.create(
        practice=practice, slug="follow-up", name="Follow-up", duration_minutes=15
    )


def make_provider(practice, slug, name, specialty="General practice", **fields):
    """Create a provider working weekdays 09:00–12:30 and 13:30–17:00."""
    provider = Provider.objects.create(
        practice=practice, slug=slug, name=name, specialty=specialty, **fields
    )
    for weekday in range(5):
        WeeklyHours.objects.create(
            provider=provider,
            weekday=weekday,
            start_time=time(9),
            end_time=time(12, 30),
        )
        WeeklyHours.objects.create(
            provider=provider,
            weekday=weekday,
            start_time=time(13, 30),
            end_time=time(17),
        )
    return provider


@pytest.fixture
def provider(practice, consultation, follow_up):
    provider = make_provider(practice, "ada-lovelace", "Dr Ada Lovelace")
    Service.objects.create(
        provider=provider, appointment_type=consultation, price_amount=8000
    )
    Service.objects.create(
        provider=provider, appointment_type=follow_up, price_amount=4500
    )
    return provider


class Jobs:
    """The job queue of one test, kept in memory, run when the test says."""

    def __init__(self, huey):
        self.huey = huey

    def run(self) -> int:
        """Run every job that is due now, and those they queue; return how many."""
        ran = 0
        while True:
            task = self.huey.dequeue()
            if task is None:
                due = self.huey.read_schedule()
                if not due:
                    return ran
                for scheduled in due:
                    self.huey.enqueue(scheduled)
                continue
            self.huey.execute(task)
            ran += 1

    def waiting(self) -> int:
        """Return how many jobs wait in the queue or the schedule."""
        return len(self.huey) + self.huey.scheduled_count()


@pytest.fixture(autouse=True)
def jobs(monkeypatch):
    """Give each test its own empty job queue in memory."""
    monkeypatch.setattr(HUEY, "storage", MemoryStorage(HUEY.name))
    # Jobs run in the test's own connection, inside its transaction: keep
    # Huey from closing that connection around each job.
    monkeypatch.setattr("huey.contrib.djhuey.close_old_connections", lambda: None)
    return Jobs(HUEY)


@pytest.fixture
def smtp_server(settings):
    """Start a real SMTP server and send Carebook's mail to it."""
    server = SmtpServer()
    server.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    yield server
    server.stop()
