"""The cancellation policy: how much of a payment a cancellation gives back."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal


@dataclass(frozen=True)
class CancellationPolicy:
    """Free until `free_hours` before the start, then `fee_percent` is kept."""

    free_hours: int
    fee_percent: int

    @classmethod
    def for_booking(cls, booking) -> "CancellationPolicy":
        """Return the policy the booking was made under."""
        return cls(
            free_hours=booking.free_cancellation_hours,
            fee_percent=booking.late_cancellation_fee_percent,
        )

    @classmethod
    def for_appointment(cls, appointment_type) -> "CancellationPolicy":
        """Return the type's own policy where it sets one, else the practice's."""
        practice = appointment_type.practice
        return cls(
            free_hours=_first_set(
                appointment_type.free_cancellation_hours,
                practice.free_cancellation_hours,
            ),
            fee_percent=_first_set(
                appointment_type.late_cancellation_fee_percent,
                practice.late_cancellation_fee_percent,
            ),
        )

    def free_until(self, start: datetime) -> datetime:
        """Return the last moment a cancellation costs nothing."""
        return start - timedelta(hours=self.free_hours)

    def refund(self, paid: int, start: datetime, now: datetime) -> int:
        """Return how much of `paid` a cancellation at `now` gives back.

        The fee is rounded to the nearest minor unit, halves up.
        """
        if now <= self.free_until(start):
            return paid
        fee = (Decimal(paid) * self.fee_percent / 100).quantize(
            Decimal(1), rounding=ROUND_HALF_UP
        )
        return paid - int(fee)


def _first_set(*values):
    return next(value for value in values if value is not None)
