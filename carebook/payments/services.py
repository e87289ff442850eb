"""Record payments: start, settle, decline, fail, refund, dispute."""

import logging
import secrets
import uuid
from datetime import datetime, timedelta
from functools import partial

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from carebook.audit.services import SYSTEM, WEBHOOK, Actor, record_change
from carebook.bookings.models import Booking
from carebook.payments.gateways import get_gateway
from carebook.payments.models import Payment, PaymentAttempt, Refund

logger = logging.getLogger(__name__)


def start_payment(booking: Booking, return_url: str, actor: Actor) -> Payment:
    """Open a payment for the booking's price and return it."""
    gateway = get_gateway()
    payment = Payment.objects.create(
        booking=booking,
        provider_id=booking.provider_id,
        appointment_type_id=booking.appointment_type_id,
        gateway=gateway.name,
        amount=booking.online_amount,
        currency=booking.currency,
        checkout_token=secrets.token_urlsafe(24),
        return_url=return_url,
    )
    record_change("payment.started", payment, actor, {"amount": payment.amount})
    return payment


# How long the checkout of a booking confirmed before payment stays open;
# a booking waiting for payment closes its checkout with its hold instead.
LATER_CHECKOUT_WINDOW = timedelta(hours=1)
# Past the window, a little longer, so that no late payment can still land.
LATER_CHECKOUT_MARGIN = timedelta(minutes=2)


def is_later_checkout_over(payment: Payment, now: datetime) -> bool:
    """Return whether a pay-later checkout's window has surely closed."""
    return payment.created_at + LATER_CHECKOUT_WINDOW + LATER_CHECKOUT_MARGIN <= now


def is_checkout_open(payment: Payment, now: datetime | None = None) -> bool:
    """Return whether a payment's checkout page may still take money.

    A lapsed hold closes it at once, whether or not the job that expires
    holds has run yet; a booking confirmed before payment closes it when its
    window ends.
    """
    now = now or timezone.now()
    booking = payment.booking
    if payment.status != Payment.Status.PENDING or booking.is_hold_expired(now):
        return False
    if booking.hold_expires_at is None:
        return now < payment.created_at + LATER_CHECKOUT_WINDOW
    return True


def checkout_url(payment: Payment) -> str:
    """Return where the patient goes to pay this payment."""
    return get_gateway(payment.gateway).checkout_url(payment)


def mark_payment_paid(payment_id: int, gateway_reference: str, actor: Actor) -> bool:
    """Mark a payment paid; return False when it was settled already.

    A cancelled payment can still be paid: money that reaches the gateway
    after Carebook gave up on it is recorded all the same, and the caller
    decides whether to keep or refund it. Runs inside the caller's
    transaction and locks the payment row, so a redirect and a webhook
    arriving together settle it once.
    """
    payment = Payment.objects.select_for_update().get(pk=payment_id)
    if payment.status not in (Payment.Status.PENDING, Payment.Status.CANCELLED):
        return False

    payment.status = Payment.Status.SUCCEEDED
    payment.gateway_reference = gateway_reference
    payment.completed_at = timezone.now()
    payment.save(update_fields=["status", "gateway_reference", "completed_at"])
    PaymentAttempt.objects.create(
        payment=payment,
        provider_id=payment.provider_id,
        appointment_type_id=payment.appointment_type_id,
        outcome=PaymentAttempt.Outcome.SUCCEEDED,
        amount=payment.amount,
        currency=payment.currency,
    )
    record_change("payment.succeeded", payment, actor)
    logger.info("Payment %s succeeded for booking %s", payment.pk, payment.booking_id)
    return True


@transaction.atomic
def record_decline(
    payment: Payment, reason: str, actor: Actor, gateway_reference: str = ""
) -> bool:
    """Record a declined try; the payment stays open for another.

    A try the gateway reports more than once (the same `gateway_reference`)
    is recorded once; returns False for a repeat.
    """
    attempts = PaymentAttempt.objects.filter(payment=payment)
    if gateway_reference and attempts.filter(gateway_reference=gateway_reference):
        return False

    PaymentAttempt.objects.create(
        payment=payment,
        provider_id=payment.provider_id,
        appointment_type_id=payment.appointment_type_id,
        outcome=PaymentAttempt.Outcome.DECLINED,
        decline_reason=reason,
        gateway_reference=gateway_reference,
        amount=payment.amount,
        currency=payment.currency,
    )
    record_change("payment.declined", payment, actor, {"reason": reason})
    logger.info("Payment %s declined: %s", payment.pk, reason)
    return True


def cancel_open_payments(booking: Booking, actor: Actor) -> None:
    """Close the booking's pending payments; they can no longer be paid."""
    for payment in booking.payments.select_for_update().filter(
        status=Payment.Status.PENDING
    ):
        payment.status = Payment.Status.CANCELLED
        payment.save(update_fields=["status"])
        record_change("payment.cancelled", payment, actor)


def left_to_refund(payment: Payment) -> int:
    """Return what of a payment no refund given or under way has taken yet."""
    asked = payment.refunds.exclude(status=Refund.Status.FAILED).aggregate(
        total=Sum("amount")
    )["total"]
    return payment.amount - (asked or 0)


def request_refund(
    payment: Payment, amount: int, reason: str, actor: Actor
) -> Refund | None:
    """Ask the gateway to give back `amount` of a payment, after commit.

    The amount is capped at what is left to refund; nothing is asked for
    when that is zero. Runs in the caller's transaction.
    """
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    amount = min(amount, left_to_refund(payment))
    if amount <= 0:
        return None

    refund = Refund.objects.create(
        payment=payment,
        provider_id=payment.provider_id,
        appointment_type_id=payment.appointment_type_id,
        amount=amount,
        currency=payment.currency,
        reason=reason,
        idempotency_key=f"carebook-refund-{payment.pk}-{uuid.uuid4().hex}",
    )
    record_change("refund.requested", refund, actor, {"amount": amount})
    transaction.on_commit(partial(_submit_later, refund.pk), robust=True)
    return refund


def _submit_later(refund_id: int) -> None:
    # Imported here: the tasks module imports this one.
    from carebook.payments.tasks import submit_refund

    submit_refund(refund_id)


def submit_refund(refund_id: int) -> None:
    """Send a pending refund to its gateway and record the outcome.

    Raises on a gateway error, so the job that runs it retries; the
    idempotency key makes a retry give the money back once.
    """
    refund = Refund.objects.select_related("payment__booking").get(pk=refund_id)
    if refund.status != Refund.Status.PENDING:
        return

    reference = get_gateway(refund.payment.gateway).refund(refund)
    with transaction.atomic():
        changed = Refund.objects.filter(
            pk=refund.pk, status=Refund.Status.PENDING
        ).update(
            status=Refund.Status.SUCCEEDED,
            gateway_reference=reference,
            completed_at=timezone.now(),
        )
        if changed:
            _add_refunded(refund.payment, refund.amount)
            record_change("refund.succeeded", refund, SYSTEM)
    logger.info("Refund %s of payment %s succeeded", refund.pk, refund.payment_id)


def give_up_refund(refund_id: int, error: Exception) -> None:
    """Mark a refund the gateway kept refusing as failed, for staff to see."""
    reason = f"{type(error).__name__}: {error}"[:1000]
    with transaction.atomic():
        changed = Refund.objects.filter(
            pk=refund_id, status=Refund.Status.PENDING
        ).update(status=Refund.Status.FAILED, last_error=reason)
        if changed:
            refund = Refund.objects.get(pk=refund_id)
            record_change("refund.failed", refund, SYSTEM, {"error": reason})
    logger.warning("Refund %s given up: %s", refund_id, reason)


def record_gateway_refunds(payment: Payment, refunded_total: int, event_id: str) -> int:
    """Record refunds made in the gateway's own dashboard; return the amount.

    `refunded_total` is what the gateway says was refunded outside Carebook
    in all; what Carebook has not recorded yet becomes one refund row.
    Carebook's own refunds are left to the job that made them, so one the
    gateway reports before the job recorded it is not counted twice.
    """
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    recorded = payment.refunds.filter(reason=Refund.Reason.GATEWAY).aggregate(
        total=Sum("amount")
    )["total"]
    missing = refunded_total - (recorded or 0)
    if missing <= 0:
        return 0

    refund = Refund.objects.create(
        payment=payment,
        provider_id=payment.provider_id,
        appointment_type_id=payment.appointment_type_id,
        amount=missing,
        currency=payment.currency,
        reason=Refund.Reason.GATEWAY,
        status=Refund.Status.SUCCEEDED,
        completed_at=timezone.now(),
        idempotency_key=f"gateway-{event_id}",
    )
    _add_refunded(payment, missing)
    record_change("refund.recorded", refund, WEBHOOK, {"amount": missing})
    return missing


def _add_refunded(payment: Payment, amount: int) -> None:
    """Count a refund on its payment; a payment refunded whole is marked so."""
    Payment.objects.filter(pk=payment.pk).update(
        refunded_amount=F("refunded_amount") + amount
    )
    Payment.objects.filter(pk=payment.pk, refunded_amount__gte=F("amount")).update(
        status=Payment.Status.REFUNDED
    )


def record_dispute(payment: Payment, amount: int) -> bool:
    """Record that the payer disputed a payment; False if known already."""
    changed = Payment.objects.filter(pk=payment.pk, disputed_amount=0).update(
        disputed_amount=amount
    )
    if changed:
        record_change("payment.disputed", payment, WEBHOOK, {"amount": amount})
        logger.warning("Payment %s disputed", payment.pk)
    return bool(changed)


def fail_payment(payment: Payment, reason: str, actor: Actor) -> bool:
    """Mark an open payment failed for good; False if it was not open."""
    changed = Payment.objects.filter(
        pk=payment.pk, status=Payment.Status.PENDING
    ).update(status=Payment.Status.FAILED, completed_at=timezone.now())
    if changed:
        record_change("payment.failed", payment, actor, {"reason": reason})
    return bool(changed)
