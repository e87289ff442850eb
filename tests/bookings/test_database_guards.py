"""What the database itself refuses, whatever the code above it does."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction

from carebook.bookings.models import Booking
from tests.factories import make_booking

ELEVEN = datetime(2026, 12, 7, 11, 0, tzinfo=UTC)


def insert(provider, appointment_type, start, status="confirmed", reference="A"):
    return make_booking(
        provider, appointment_type, start, status=status, reference=reference
    )


def test_postgresql_refuses_overlapping_time_of_one_provider(provider, consultation):
    insert(provider, consultation, ELEVEN)

    overlapping = ELEVEN + timedelta(minutes=35)
    if connection.vendor == "postgresql":
        with pytest.raises(IntegrityError), transaction.atomic():
            insert(provider, consultation, overlapping, reference="B")
        assert Booking.objects.count() == 1
    else:
        # SQLite has no exclusion constraints: the booking service's
        # IMMEDIATE transaction is the guard there (see test_concurrency).
        insert(provider, consultation, overlapping, reference="B")
        assert Booking.objects.count() == 2


def test_time_of_cancelled_and_expired_bookings_can_be_reused(provider, consultation):
    insert(provider, consultation, ELEVEN, status="cancelled", reference="A")
    insert(provider, consultation, ELEVEN, status="expired", reference="B")

    insert(provider, consultation, ELEVEN, reference="C")

    assert Booking.objects.filter(start=ELEVEN).count() == 3


def test_booking_that_ends_before_it_starts_is_refused(provider, consultation):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_booking(
            provider,
            consultation,
            ELEVEN,
            end=ELEVEN - timedelta(minutes=1),
            blocked_end=ELEVEN,
        )
    assert Booking.objects.count() == 0
