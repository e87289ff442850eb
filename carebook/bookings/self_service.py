"""What a patient changes from their private link, and until when.

The practice sets cut-offs before the start (`cancel_cutoff_hours`,
`reschedule_cutoff_hours`); a change is open up to and including the
cut-off, and never once the appointment has started. The booking services
check again inside their lock, so a page shown a moment too early refuses
nothing it should not.
"""

from datetime import datetime, timedelta
from functools import partial

from django.utils import timezone

from carebook.audit.services import PATIENT
from carebook.bookings.models import Booking
from carebook.bookings.services import WrongState, cancel_booking, reschedule_booking
from carebook.practice.models import Service

CANCELLING = "cancelling"
MOVING = "moving"


class ChangeClosed(WrongState):
    """The patient may no longer make this change from their link."""


def check_change_allowed(
    booking: Booking, now: datetime, *, cutoff_hours: int, change: str
) -> None:
    """Refuse a patient's change once its cut-off before the start has passed."""
    if now >= booking.start:
        raise ChangeClosed(
            "The appointment has started, so it can no longer be changed here."
        )
    if now > booking.start - timedelta(hours=cutoff_hours):
        raise ChangeClosed(
            f"{change.capitalize()} online closes {cutoff_hours} hours before "
            f"the appointment. {_call_the_practice(booking)}"
        )


def _call_the_practice(booking: Booking) -> str:
    phone = booking.provider.practice.phone
    if phone:
        return f"Please call the practice on {phone}."
    return "Please call the practice."


def _cutoff_hours(booking: Booking, change: str) -> int:
    practice = booking.provider.practice
    if change == CANCELLING:
        return practice.cancel_cutoff_hours
    return practice.reschedule_cutoff_hours


def patient_change_deadline(booking: Booking, change: str) -> datetime:
    """Return the last instant the patient may make `change` from their link."""
    return booking.start - timedelta(hours=_cutoff_hours(booking, change))


def patient_change_refusal(booking: Booking, change: str, now=None) -> str:
    """Return why the patient cannot make `change` from their link now.

    An empty answer means the change is open. This is for showing the
    patient before they try.
    """
    now = now or timezone.now()
    if change == CANCELLING:
        open_statuses = (Booking.Status.CONFIRMED, Booking.Status.PENDING_PAYMENT)
        verb = "cancelled"
    else:
        open_statuses = (Booking.Status.CONFIRMED,)
        verb = "moved"
    if booking.status not in open_statuses:
        return f"A {booking.get_status_display().lower()} booking cannot be {verb}."
    if change == MOVING and not _is_still_offered(booking):
        return (
            f"{booking.provider.name} takes no new bookings of this kind, so "
            f"this booking cannot be moved here. {_call_the_practice(booking)}"
        )
    try:
        check_change_allowed(
            booking, now, cutoff_hours=_cutoff_hours(booking, change), change=change
        )
    except ChangeClosed as closed:
        return str(closed)
    return ""


def _is_still_offered(booking: Booking) -> bool:
    return booking.provider.is_active and (
        Service.objects.filter(
            provider=booking.provider, appointment_type=booking.appointment_type
        ).exists()
    )


def cancel_by_patient(booking: Booking, now=None) -> Booking:
    """Cancel from the patient's link, within the practice's cut-off."""
    check = partial(
        check_change_allowed,
        cutoff_hours=_cutoff_hours(booking, CANCELLING),
        change=CANCELLING,
    )
    return cancel_booking(booking, PATIENT, now, check)


def reschedule_by_patient(booking: Booking, start: datetime, now=None) -> Booking:
    """Move from the patient's link, within the practice's cut-off."""
    check = partial(
        check_change_allowed, cutoff_hours=_cutoff_hours(booking, MOVING), change=MOVING
    )
    return reschedule_booking(booking, start, PATIENT, now, check)
