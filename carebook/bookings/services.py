"""The booking life cycle: hold a slot, add the patient, confirm, expire.

Every change that holds time runs in a transaction that first takes a lock
(the provider's row on PostgreSQL; SQLite's IMMEDIATE transactions hold the
database's write lock from their start), then checks the slot again. On
PostgreSQL an exclusion constraint backs the check.
"""

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from carebook.audit.services import JOB, Actor, record_change
from carebook.bookings.availability import is_free_slot
from carebook.bookings.models import Booking, hash_token, make_token
from carebook.bookings.signals import time_freed
from carebook.notifications import services as notifications
from carebook.payments import services as payments
from carebook.payments.models import Payment, Refund
from carebook.payments.policy import CancellationPolicy
from carebook.practice.models import AppointmentType, Provider, Service
from carebook.practice.services import lock_provider
from carebook.timezones import local_date

logger = logging.getLogger(__name__)

# Unambiguous letters and digits: no 0/O, 1/I/L.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
REFERENCE_LENGTH = 8
EXCLUSION_VIOLATION = "23P01"
ATTENDANCE_STATUSES = (Booking.Status.COMPLETED, Booking.Status.NO_SHOW)
# Refuses a change to a locked booking by raising a BookingError.
ChangeCheck = Callable[[Booking, datetime], None]


class BookingError(Exception):
    """A booking request that cannot be carried out; the message says why."""


class SlotUnavailable(BookingError):
    """The requested time is not free (anymore)."""


class NotOffered(BookingError):
    """The provider does not offer this appointment type."""


class WrongState(BookingError):
    """The booking is not in a state that allows this change."""


@dataclass(frozen=True)
class PatientDetails:
    name: str
    email: str
    phone: str = ""


@dataclass(frozen=True)
class HeldBooking:
    """A new booking and its secret token, which is shown only once."""

    booking: Booking
    token: str


@dataclass(frozen=True)
class Span:
    """An appointment's own time and the time it blocks, buffers included."""

    start: datetime
    end: datetime
    blocked_start: datetime
    blocked_end: datetime

    @classmethod
    def of(cls, appointment_type: AppointmentType, start: datetime) -> "Span":
        end = start + timedelta(minutes=appointment_type.duration_minutes)
        return cls(
            start=start,
            end=end,
            blocked_start=start
            - timedelta(minutes=appointment_type.buffer_before_minutes),
            blocked_end=end + timedelta(minutes=appointment_type.buffer_after_minutes),
        )

    def as_fields(self) -> dict:
        return {
            "start": self.start,
            "end": self.end,
            "blocked_start": self.blocked_start,
            "blocked_end": self.blocked_end,
        }


def new_reference() -> str:
    """Return a fresh booking reference such as 'K7M2Q9XR'."""
    return "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))


def find_service(provider: Provider, appointment_type: AppointmentType) -> Service:
    """Return the provider's service for the type, or raise NotOffered."""
    try:
        return Service.objects.select_related("provider__practice").get(
            provider=provider, appointment_type=appointment_type
        )
    except Service.DoesNotExist:
        raise NotOffered(
            f"{provider.name} does not offer {appointment_type.name}"
        ) from None


def _lock_provider_of(booking_id: int) -> None:
    """Take the provider lock of a booking known only by its id."""
    provider_id = (
        Booking.objects.filter(pk=booking_id)
        .values_list("provider_id", flat=True)
        .get()
    )
    lock_provider(provider_id)


def _expire_lapsed_holds_near(
    provider: Provider, start, end, now, exclude_booking_id=None
) -> None:
    """Mark lapsed holds overlapping [start, end) expired, freeing their time.

    Availability already treats them as free; the database constraint does
    not until their status changes.
    """
    lapsed = (
        Booking.objects.filter(
            provider=provider,
            status__in=Booking.EXPIRING_STATUSES,
            hold_expires_at__lte=now,
        )
        .overlapping(start, end)
        .exclude(pk=exclude_booking_id)
        .values_list("pk", flat=True)
    )
    for booking_id in list(lapsed):
        expire_booking(booking_id, JOB, now)


def hold_slot(
    *,
    provider: Provider,
    appointment_type: AppointmentType,
    start: datetime,
    patient_timezone: str,
    source: str,
    actor: Actor,
    patient_language: str = "en",
    picker_opened_at: datetime | None = None,
    now: datetime | None = None,
    hold_until: datetime | None = None,
) -> HeldBooking:
    """Hold a free slot for a short while and return the new booking.

    The hold lasts CAREBOOK_HOLD_MINUTES unless `hold_until` says otherwise.
    Raises SlotUnavailable when the time is not a free slot, including when
    another booking took it a moment earlier.
    """
    now = now or timezone.now()
    # In UTC: Python takes offsets PostgreSQL refuses (beyond ±15:59).
    start = start.astimezone(UTC)
    service = find_service(provider, appointment_type)
    span = Span.of(appointment_type, start)
    policy = CancellationPolicy.for_appointment(appointment_type)
    token_salt = secrets.token_hex(16)
    token = make_token(token_salt)

    try:
        with transaction.atomic():
            lock_provider(provider.pk)
            _expire_lapsed_holds_near(
                provider, span.blocked_start, span.blocked_end, now
            )
            if not is_free_slot(provider, appointment_type, start, now):
                raise SlotUnavailable("That time is not available to book.")

            booking = Booking.objects.create(
                reference=new_reference(),
                token_hash=hash_token(token),
                token_salt=token_salt,
                patient_language=patient_language,
                provider=provider,
                appointment_type=appointment_type,
                status=Booking.Status.HELD,
                source=source,
                **span.as_fields(),
                hold_expires_at=hold_until
                or now + timedelta(minutes=settings.CAREBOOK_HOLD_MINUTES),
                price_amount=service.price_amount,
                deposit_amount=service.deposit_amount,
                free_cancellation_hours=policy.free_hours,
                late_cancellation_fee_percent=policy.fee_percent,
                currency=provider.practice.currency,
                patient_timezone=patient_timezone,
                picker_opened_at=picker_opened_at,
                held_at=now,
            )
            record_change("booking.held", booking, actor, {"start": start.isoformat()})
    except IntegrityError as error:
        if getattr(error.__cause__, "sqlstate", None) == EXCLUSION_VIOLATION:
            raise SlotUnavailable("That time is not available to book.") from None
        raise

    logger.info("Booking %s held for provider %s", booking.pk, provider.pk)
    return HeldBooking(booking, token)


def add_patient_details(
    booking: Booking,
    patient: PatientDetails,
    return_url: str,
    actor: Actor,
    now: datetime | None = None,
    payment_plan: str = Booking.PaymentPlan.ONLINE,
) -> Booking:
    """Attach the patient to a held booking, then ask for payment or confirm.

    A booking with a price paid online waits for payment for
    CAREBOOK_PAYMENT_MINUTES; a free one, or one paid later or at the desk
    (`payment_plan`, which only staff choose), is confirmed at once.
    """
    now = now or timezone.now()
    with transaction.atomic():
        booking = Booking.objects.select_for_update().get(pk=booking.pk)
        if booking.status != Booking.Status.HELD or booking.is_hold_expired(now):
            raise WrongState("This hold has ended; please choose a time again.")

        booking.patient_name = patient.name
        booking.patient_email = patient.email
        booking.patient_phone = patient.phone
        booking.payment_plan = payment_plan
        if booking.needs_payment:
            booking.status = Booking.Status.PENDING_PAYMENT
            booking.hold_expires_at = now + timedelta(
                minutes=settings.CAREBOOK_PAYMENT_MINUTES
            )
            booking.save()
            record_change("booking.pending_payment", booking, actor)
            payments.start_payment(booking, return_url, actor)
        else:
            _confirm(booking, actor, now)
    return booking


def book_slot(
    *,
    patient: PatientDetails,
    return_url_for: Callable[[str], str],
    payment_plan: str = Booking.PaymentPlan.ONLINE,
    **hold_arguments,
) -> HeldBooking:
    """Hold a slot and add the patient in one go, as the API and desk do.

    `return_url_for` turns the new booking's token into the address the
    patient comes back to after paying.
    """
    with transaction.atomic():
        held = hold_slot(**hold_arguments)
        booking = add_patient_details(
            held.booking,
            patient,
            return_url_for(held.token),
            hold_arguments["actor"],
            hold_arguments.get("now"),
            payment_plan,
        )
    return HeldBooking(booking, held.token)


def can_pay_later(booking: Booking) -> bool:
    """Return whether a booking confirmed unpaid still has money to pay online."""
    return (
        booking.status == Booking.Status.CONFIRMED
        and booking.payment_plan == Booking.PaymentPlan.LATER
        and booking.online_amount > 0
        and not booking.payments.filter(status=Payment.Status.SUCCEEDED).exists()
    )


def start_later_payment(booking: Booking, return_url: str, actor: Actor) -> Payment:
    """Open the online payment of a confirmed booking to be paid later.

    Returns the booking's open payment when it has one, so a second click
    pays the same checkout.
    """
    now = timezone.now()
    with transaction.atomic():
        lock_provider(booking.provider_id)
        booking = Booking.objects.select_for_update().get(pk=booking.pk)
        if not can_pay_later(booking):
            raise WrongState("This booking has nothing to pay online.")

        open_payment = booking.payments.filter(status=Payment.Status.PENDING).first()
        if open_payment is not None and not payments.is_later_checkout_over(
            open_payment, now
        ):
            return open_payment
        # A checkout past its window can no longer be paid: start another.
        payments.cancel_open_payments(booking, actor)
        return payments.start_payment(booking, return_url, actor)


def _time_freed(booking: Booking) -> None:
    """Tell the apps that build on bookings that its time may be free."""
    time_freed.send(sender=Booking, provider_id=booking.provider_id)


def _confirm(booking: Booking, actor: Actor, now: datetime) -> None:
    """Move a locked booking to confirmed and tell the people concerned."""
    booking.status = Booking.Status.CONFIRMED
    booking.hold_expires_at = None
    booking.confirmed_at = now
    booking.save()
    record_change("booking.confirmed", booking, actor)
    notifications.notify_booking_confirmed(booking)
    logger.info("Booking %s confirmed", booking.pk)


def settle_payment(
    payment_id: int, gateway_reference: str, actor: Actor, now=None
) -> Booking:
    """Record a successful payment and confirm its booking, once.

    A payment that arrives after its hold lapsed still confirms the booking
    when its time is free; when another booking has taken it, the payment is
    refunded in full and the booking ends expired.
    """
    now = now or timezone.now()
    with transaction.atomic():
        booking = Payment.objects.select_related("booking").get(pk=payment_id).booking
        lock_provider(booking.provider_id)
        if not payments.mark_payment_paid(payment_id, gateway_reference, actor):
            return Booking.objects.get(pk=booking.pk)

        booking = Booking.objects.select_for_update().get(pk=booking.pk)
        is_waiting = booking.status == Booking.Status.PENDING_PAYMENT
        is_late = booking.status == Booking.Status.EXPIRED or (
            is_waiting and booking.is_hold_expired(now)
        )
        is_paid_later = booking.payment_plan == Booking.PaymentPlan.LATER and (
            booking.status in (Booking.Status.CONFIRMED, *ATTENDANCE_STATUSES)
        )
        if is_paid_later:
            # A checkout opened meanwhile must not take the money twice.
            payments.cancel_open_payments(booking, actor)
            notifications.notify_payment_received(Payment.objects.get(pk=payment_id))
        elif (is_waiting and not is_late) or (
            is_late and not _is_time_taken(booking, now)
        ):
            _confirm(booking, actor, now)
            notifications.notify_payment_received(Payment.objects.get(pk=payment_id))
        else:
            # Too late: the patient cancelled, or another booking took the
            # time. The money goes back in full.
            is_cancelled = booking.status == Booking.Status.CANCELLED
            payment = Payment.objects.get(pk=payment_id)
            payments.request_refund(
                payment,
                payment.amount,
                Refund.Reason.CANCELLATION
                if is_cancelled
                else Refund.Reason.TIME_TAKEN,
                actor,
            )
            expire_booking(booking.pk, actor, now)
            notifications.notify_payment_refunded(
                payment, "cancelled" if is_cancelled else "time_taken"
            )
    return Booking.objects.get(pk=booking.pk)


def _is_time_taken(booking: Booking, now) -> bool:
    """Return whether another booking now holds any of this booking's time."""
    _expire_lapsed_holds_near(
        booking.provider, booking.blocked_start, booking.blocked_end, now, booking.pk
    )
    return (
        Booking.objects.filter(provider=booking.provider)
        .holding_time(now)
        .overlapping(booking.blocked_start, booking.blocked_end)
        .exclude(pk=booking.pk)
        .exists()
    )


def end_unpaid_booking(payment_id: int, reason: str, actor: Actor, now=None) -> bool:
    """Fail a payment that cannot succeed and free its booking's time.

    For a checkout that expired or a payment the bank refused; returns
    False when the booking was no longer waiting for this payment.
    """
    now = now or timezone.now()
    with transaction.atomic():
        payment = Payment.objects.select_related("booking").get(pk=payment_id)
        lock_provider(payment.booking.provider_id)
        payments.fail_payment(payment, reason, actor)
        changed = Booking.objects.filter(
            pk=payment.booking_id, status=Booking.Status.PENDING_PAYMENT
        ).update(status=Booking.Status.EXPIRED, updated_at=now)
        if changed:
            record_change("booking.expired", payment.booking, actor, {"reason": reason})
            _time_freed(payment.booking)
    if changed:
        logger.info("Booking %s released: payment %s", payment.booking_id, reason)
    return bool(changed)


def expire_booking(booking_id: int, actor: Actor, now=None) -> bool:
    """Expire a lapsed hold; return False when it was not one."""
    now = now or timezone.now()
    with transaction.atomic():
        _lock_provider_of(booking_id)
        changed = Booking.objects.filter(
            pk=booking_id,
            status__in=Booking.EXPIRING_STATUSES,
            hold_expires_at__lte=now,
        ).update(status=Booking.Status.EXPIRED, updated_at=now)
        if not changed:
            return False

        booking = Booking.objects.get(pk=booking_id)
        payments.cancel_open_payments(booking, actor)
        record_change("booking.expired", booking, actor)
        _time_freed(booking)
    logger.info("Booking %s expired", booking_id)
    return True


def cancel_booking(
    booking: Booking, actor: Actor, now=None, check: ChangeCheck | None = None
) -> Booking:
    """Cancel a confirmed or unpaid booking, freeing its time.

    What was paid is refunded as the cancellation policy says: in full
    until the free cancellation limit, less the late fee after it. `check`,
    given the locked booking and `now`, may refuse the change by raising.
    """
    now = now or timezone.now()
    with transaction.atomic():
        lock_provider(booking.provider_id)
        booking = Booking.objects.select_for_update().get(pk=booking.pk)
        if booking.status not in (
            Booking.Status.CONFIRMED,
            Booking.Status.PENDING_PAYMENT,
        ):
            raise WrongState(
                f"A {booking.get_status_display().lower()} booking cannot be cancelled."
            )
        if check is not None:
            check(booking, now)

        was_confirmed = booking.status == Booking.Status.CONFIRMED
        booking.status = Booking.Status.CANCELLED
        booking.hold_expires_at = None
        booking.sequence += 1
        booking.save()
        payments.cancel_open_payments(booking, actor)
        record_change("booking.cancelled", booking, actor)
        _time_freed(booking)
        refunded = _refund_by_policy(booking, actor, now)
        if was_confirmed:
            notifications.notify_booking_cancelled(booking, refunded)
    logger.info("Booking %s cancelled", booking.pk)
    return booking


def _refund_by_policy(booking: Booking, actor: Actor, now: datetime) -> int:
    """Give back what the cancellation policy returns of each payment.

    Returns the total being refunded.
    """
    policy = CancellationPolicy.for_booking(booking)
    refunded = 0
    for payment in booking.payments.filter(status=Payment.Status.SUCCEEDED):
        amount = policy.refund(payment.amount, booking.start, now)
        refund = payments.request_refund(
            payment, amount, Refund.Reason.CANCELLATION, actor
        )
        refunded += refund.amount if refund else 0
    return refunded


def reschedule_booking(
    booking: Booking,
    start: datetime,
    actor: Actor,
    now=None,
    check: ChangeCheck | None = None,
) -> Booking:
    """Move a confirmed booking to another free start of the same kind.

    The booking keeps its reference, price and calendar event; the patient's
    calendar gets the same event with a higher SEQUENCE. `check`, given the
    locked booking and `now`, may refuse the move by raising.
    """
    now = now or timezone.now()
    # In UTC: Python takes offsets PostgreSQL refuses (beyond ±15:59).
    start = start.astimezone(UTC)
    appointment_type = booking.appointment_type
    span = Span.of(appointment_type, start)

    with transaction.atomic():
        lock_provider(booking.provider_id)
        booking = Booking.objects.select_for_update().get(pk=booking.pk)
        if booking.status != Booking.Status.CONFIRMED:
            raise WrongState("Only a confirmed booking can be moved.")
        if check is not None:
            check(booking, now)
        if booking.start == start:
            # A repeated request for the move already made changes nothing.
            return booking
        if not booking.provider.is_active:
            raise NotOffered(f"{booking.provider.name} takes no new bookings.")
        find_service(booking.provider, appointment_type)
        _expire_lapsed_holds_near(
            booking.provider, span.blocked_start, span.blocked_end, now
        )
        if not is_free_slot(
            booking.provider,
            appointment_type,
            start,
            now,
            exclude_booking_id=booking.pk,
        ):
            raise SlotUnavailable("That time is not available to book.")

        previous = booking.start
        for name, value in span.as_fields().items():
            setattr(booking, name, value)
        booking.sequence += 1
        booking.save()
        record_change(
            "booking.rescheduled",
            booking,
            actor,
            {"from": previous.isoformat(), "to": start.isoformat()},
        )
        notifications.notify_booking_rescheduled(booking, previous)
        _time_freed(booking)
    logger.info("Booking %s rescheduled", booking.pk)
    return booking


def refund_on_cancelling(booking: Booking, now=None) -> int:
    """Return what cancelling now would give back of what was paid."""
    now = now or timezone.now()
    policy = CancellationPolicy.for_booking(booking)
    paid = booking.payments.filter(status=Payment.Status.SUCCEEDED)
    # As request_refund caps it: never more than is left to give back.
    return sum(
        min(
            policy.refund(payment.amount, booking.start, now),
            payments.left_to_refund(payment),
        )
        for payment in paid
    )


def record_attendance(booking: Booking, status: str, actor: Actor, now=None) -> Booking:
    """Mark a booking whose appointment has started completed or a no-show.

    A confirmed booking takes either mark; a marked one may be corrected to
    the other, but nothing else changes it back.
    """
    now = now or timezone.now()
    if status not in ATTENDANCE_STATUSES:
        raise ValueError(f"{status!r} is not an attendance status")

    with transaction.atomic():
        booking = Booking.objects.select_for_update().get(pk=booking.pk)
        refusal = attendance_refusal(booking, now)
        if refusal:
            raise WrongState(refusal)
        if booking.status == status:
            return booking

        previous = booking.status
        booking.status = status
        booking.save(update_fields=["status", "updated_at"])
        record_change(
            f"booking.{status}", booking, actor, {"from": previous, "to": status}
        )
    logger.info("Booking %s marked %s", booking.pk, status)
    return booking


def attendance_refusal(booking: Booking, now: datetime) -> str:
    """Return why the booking cannot be marked completed or missed now.

    An empty answer means it can.
    """
    if booking.status not in (Booking.Status.CONFIRMED, *ATTENDANCE_STATUSES):
        return (
            f"A {booking.get_status_display().lower()} booking cannot be "
            "marked attended or missed."
        )
    if booking.start > now:
        return "The appointment has not started yet."
    return ""


def arrival_refusal(booking: Booking, now: datetime) -> str:
    """Return why the patient cannot be marked arrived now; empty if they can.

    Arrivals are taken on the appointment's own day in the practice's zone,
    from midnight until the appointment ends.
    """
    if booking.status != Booking.Status.CONFIRMED:
        return (
            f"A {booking.get_status_display().lower()} booking cannot be "
            "marked arrived."
        )
    zone_name = booking.provider.practice.timezone
    if local_date(zone_name, now) != local_date(zone_name, booking.start):
        return "Arrivals are taken on the day of the appointment."
    if now >= booking.end:
        return "The appointment is over; mark it completed instead."
    return ""


def record_arrival(booking: Booking, actor: Actor, now=None) -> Booking:
    """Note that the patient of a confirmed booking has arrived, once."""
    now = now or timezone.now()
    with transaction.atomic():
        booking = Booking.objects.select_for_update().get(pk=booking.pk)
        refusal = arrival_refusal(booking, now)
        if refusal:
            raise WrongState(refusal)
        if booking.arrived_at is not None:
            return booking

        booking.arrived_at = now
        booking.save(update_fields=["arrived_at", "updated_at"])
        record_change("booking.arrived", booking, actor, {"at": now.isoformat()})
    logger.info("Booking %s arrived", booking.pk)
    return booking


def release_hold(booking: Booking, actor: Actor, now=None) -> bool:
    """Give up a held time the patient left for another; False if not held."""
    now = now or timezone.now()
    with transaction.atomic():
        lock_provider(booking.provider_id)
        released = Booking.objects.filter(
            pk=booking.pk, status=Booking.Status.HELD
        ).update(status=Booking.Status.EXPIRED, hold_expires_at=now, updated_at=now)
        if released:
            record_change("booking.released", booking, actor)
            _time_freed(booking)
    return bool(released)


def expire_lapsed_holds(now=None) -> int:
    """Expire every hold whose time is up; return how many."""
    now = now or timezone.now()
    lapsed = Booking.objects.filter(
        status__in=Booking.EXPIRING_STATUSES, hold_expires_at__lte=now
    ).values_list("pk", flat=True)
    return sum(expire_booking(booking_id, JOB, now) for booking_id in list(lapsed))


def find_booking_by_token(token: str) -> Booking | None:
    """Return the booking a patient's secret token opens, if any."""
    return (
        Booking.objects.select_related("provider__practice", "appointment_type")
        .filter(token_hash=hash_token(token))
        .first()
    )
