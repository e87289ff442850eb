"""A real job worker, in its own process, runs Carebook's jobs.

The worker is `manage.py run_huey` started as a separate process on the
test database, with the queue kept in SQLite (the default) or in Redis.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from carebook.bookings.models import Booking
from carebook.bookings.tasks import expire_lapsed_holds_every_minute
from tests.factories import make_booking
from tests.jobs.conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


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


def status_of(booking) -> str:
    return Booking.objects.values_list("status", flat=True).get(pk=booking.pk)


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
