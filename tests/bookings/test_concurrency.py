"""No double booking, however many patients click at once (invariant 1).

These tests commit for real, from many threads each with its own database
connection, so they run the same race on SQLite and on PostgreSQL.
"""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test import Client

from carebook.bookings.models import Booking

ATTEMPTS = 20
pytestmark = pytest.mark.django_db(transaction=True)


def race(requests: list[dict]) -> list[int]:
    """Post every booking request at the same moment; return the statuses."""
    barrier = threading.Barrier(len(requests))

    def post(body):
        try:
            client = Client()
            barrier.wait()
            return client.post(
                "/api/v1/bookings", body, content_type="application/json"
            ).status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(post, requests))


def request_for(provider, appointment_type: str, start: str, number: int) -> dict:
    return {
        "provider": provider.pk,
        "appointment_type": appointment_type,
        "start": start,
        "patient": {"name": f"Patient {number}", "email": f"p{number}@example.com"},
    }


def test_twenty_attempts_at_one_slot_make_exactly_one_booking(provider, now):
    requests = [
        request_for(provider, "consultation", "2026-12-07T11:00:00Z", n)
        for n in range(ATTEMPTS)
    ]

    statuses = race(requests)

    assert sorted(statuses) == [201] + [409] * (ATTEMPTS - 1)
    assert Booking.objects.count() == 1
    assert Booking.objects.get().start == datetime(2026, 12, 7, 11, 0, tzinfo=UTC)


def test_overlapping_attempts_with_different_starts_make_one_booking(provider, now):
    # Each of these overlaps every other once buffers count: a consultation
    # holds 40 minutes (30 and a 10 minute buffer), a follow-up 15.
    kinds = [
        ("consultation", "10:00"),
        ("consultation", "10:15"),
        ("consultation", "10:30"),
        ("follow-up", "10:30"),
    ]
    requests = [
        request_for(provider, kind, f"2026-12-07T{start}:00Z", n)
        for n, (kind, start) in enumerate(kinds * (ATTEMPTS // len(kinds)))
    ]

    statuses = race(requests)

    assert sorted(statuses) == [201] + [409] * (ATTEMPTS - 1)
    assert Booking.objects.count() == 1
