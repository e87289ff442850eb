"""What the database itself refuses, whatever the code above it does."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction

from carebook.bookings.models import Booking

ELEVEN = datetime(2026, 12, 7, 11, 0, tzinfo=UTC)


def insert(provider, appointment_type, start, status="confirmed", reference="A"):
    return Booking.objects.create(
        reference=reference,
        token_hash=reference,
        provider=provider,
        appointment_type=appointment_type,
        status=status,
        source="api",
        start=start,
        end=start + timedelta(minutes=30),
        blocked_start=start,
        blocked_end=start + timedelta(minutes=40),
        price_amount=8000,
        currency="EUR",
        patient_timezone="Europe/Dublin",
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
        Booking.objects.create(
            reference="A",
            token_hash="A",
            provider=provider,
            appointment_type=consultation,
            status="confirmed",
            source="api",
            start=ELEVEN,
            end=ELEVEN - timedelta(minutes=1),
            blocked_start=ELEVEN,
            blocked_end=ELEVEN,
            price_amount=0,
            currency="EUR",
            patient_timezone="UTC",
        )
    assert Booking.objects.count() == 0
