"""Workers offering one freed time at once hold it once (invariant 1).

These tests commit for real, from many threads each with its own database
connection, so they run the same race on SQLite and on PostgreSQL.
"""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.db import connection

from carebook.bookings.models import Booking
from carebook.practice.models import DateOverride
from carebook.waitlist.models import WaitlistEntry, WaitlistOffer
from carebook.waitlist.services import offer_free_times
from tests.conftest import MONDAY_MORNING

WORKERS = 8
pytestmark = pytest.mark.django_db(transaction=True)


def wait_in_line(provider, consultation, patients: int) -> None:
    for number in range(patients):
        WaitlistEntry.objects.create(
            provider=provider,
            appointment_type=consultation,
            first_day=date(2026, 12, 8),
            last_day=date(2026, 12, 8),
            patient_name=f"Patient {number}",
            patient_email=f"p{number}@example.com",
            email_key=f"p{number}@example.com",
            patient_timezone="Europe/Dublin",
            token_hash=f"{number}" * 64,
            token_salt=str(number),
            joined_at=MONDAY_MORNING - timedelta(hours=patients - number),
        )


def race_offers(provider) -> list[int]:
    """Run the offer job in many workers at the same moment."""
    barrier = threading.Barrier(WORKERS)

    def offer(_):
        try:
            barrier.wait()
            return offer_free_times(provider.pk)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(offer, range(WORKERS)))


def test_workers_racing_to_offer_one_time_hold_it_once(provider, consultation, now):
    # One consultation is free on Tuesday, and two patients wait for it.
    DateOverride.objects.create(
        provider=provider,
        date=date(2026, 12, 8),
        start_time=time(10),
        end_time=time(10, 30),
    )
    wait_in_line(provider, consultation, 2)

    made = race_offers(provider)

    assert sorted(made) == [0] * (WORKERS - 1) + [1]
    assert list(
        WaitlistOffer.objects.values_list("entry__patient_email", "status", "start")
    ) == [("p0@example.com", "open", datetime(2026, 12, 8, 10, 0, tzinfo=UTC))]
    assert Booking.objects.filter(status=Booking.Status.HELD).count() == 1


def test_workers_racing_with_two_free_times_offer_each_patient_one(
    provider, consultation, now
):
    # 10:00 and 10:45 are free on Tuesday (a consultation blocks 40 minutes).
    DateOverride.objects.create(
        provider=provider,
        date=date(2026, 12, 8),
        start_time=time(10),
        end_time=time(11, 15),
    )
    wait_in_line(provider, consultation, 2)

    made = race_offers(provider)

    assert sum(made) == 2
    assert sorted(
        WaitlistOffer.objects.values_list("entry__patient_email", "status")
    ) == [("p0@example.com", "open"), ("p1@example.com", "open")]
    assert Booking.objects.filter(status=Booking.Status.HELD).count() == 2
