"""Rows made straight in the database, for tests that need them as given."""

import uuid
from datetime import timedelta

from carebook.bookings.models import Booking


def make_booking(provider, appointment_type, start, **fields) -> Booking:
    """Insert a booking at `start` with its type's length and buffers.

    Nothing is checked: the row goes in as given, so tests can set up states
    the booking service would refuse to make. `fields` override the defaults
    (a confirmed 80.00 EUR web booking).
    """
    end = start + timedelta(minutes=appointment_type.duration_minutes)
    values = {
        "reference": uuid.uuid4().hex[:8].upper(),
        "token_hash": uuid.uuid4().hex,
        "status": Booking.Status.CONFIRMED,
        "source": Booking.Source.WEB,
        "end": end,
        "blocked_start": start
        - timedelta(minutes=appointment_type.buffer_before_minutes),
        "blocked_end": end + timedelta(minutes=appointment_type.buffer_after_minutes),
        "price_amount": 8000,
        "currency": "EUR",
        "patient_timezone": "Europe/Dublin",
        **fields,
    }
    return Booking.objects.create(
        provider=provider, appointment_type=appointment_type, start=start, **values
    )
