"""Rows made straight in the database, for tests that need them as given."""

import uuid

from carebook.bookings.models import Booking, hash_token, make_token
from carebook.bookings.services import Span


def make_booking(provider, appointment_type, start, **fields) -> Booking:
    """Insert a booking at `start` with its type's length and buffers.

    Nothing is checked: the row goes in as given, so tests can set up states
    the booking service would refuse to make. `fields` override the defaults
    (a confirmed 80.00 EUR web booking).
    """
    token_salt = uuid.uuid4().hex
    values = {
        "reference": uuid.uuid4().hex[:8].upper(),
        # A real pair, so booking.token opens the patient's pages.
        "token_salt": token_salt,
        "token_hash": hash_token(make_token(token_salt)),
        "status": Booking.Status.CONFIRMED,
        "source": Booking.Source.WEB,
        **Span.of(appointment_type, start).as_fields(),
        "price_amount": 8000,
        "currency": "EUR",
        "patient_timezone": "Europe/Dublin",
        **fields,
    }
    return Booking.objects.create(
        provider=provider, appointment_type=appointment_type, **values
    )
