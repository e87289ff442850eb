"""Record payments: start one, settle it, note a decline."""

import logging
import secrets

from django.db import transaction
from django.utils import timezone

from carebook.audit.services import Actor, record_change
from carebook.bookings.models import Booking
from carebook.payments.gateways import get_gateway
from carebook.payments.models import Payment, PaymentAttempt

logger = logging.getLogger(__name__)


def start_payment(booking: Booking, return_url: str, actor: Actor) -> Payment:
    """Open a payment for the booking's price and return it."""
    gateway = get_gateway()
    payment = Payment.objects.create(
        booking=booking,
        gateway=gateway.name,
        amount=booking.price_amount,
        currency=booking.currency,
        checkout_token=secrets.token_urlsafe(24),
        return_url=return_url,
    )
    record_change("payment.started", payment, actor, {"amount": payment.amount})
    return payment


def checkout_url(payment: Payment) -> str:
    """Return where the patient goes to pay this payment."""
    return get_gateway().checkout_url(payment)


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
        outcome=PaymentAttempt.Outcome.SUCCEEDED,
        amount=payment.amount,
        currency=payment.currency,
    )
    record_change("payment.succeeded", payment, actor)
    logger.info("Payment %s succeeded for booking %s", payment.pk, payment.booking_id)
    return True


@transaction.atomic
def record_decline(payment: Payment, reason: str, actor: Actor) -> None:
    """Record a declined card; the payment stays open for another try."""
    PaymentAttempt.objects.create(
        payment=payment,
        outcome=PaymentAttempt.Outcome.DECLINED,
        decline_reason=reason,
        amount=payment.amount,
        currency=payment.currency,
    )
    record_change("payment.declined", payment, actor, {"reason": reason})
    logger.info("Payment %s declined: %s", payment.pk, reason)


def cancel_open_payments(booking: Booking, actor: Actor) -> None:
    """Close the booking's pending payments; they can no longer be paid."""
    for payment in booking.payments.select_for_update().filter(
        status=Payment.Status.PENDING
    ):
        payment.status = Payment.Status.CANCELLED
        payment.save(update_fields=["status"])
        record_change("payment.cancelled", payment, actor)


def refund_in_full(payment: Payment, actor: Actor) -> None:
    """Give back everything a paid payment took.

    The demo gateway holds no real money, so recording the refund is the
    whole refund.
    """
    payment.status = Payment.Status.REFUNDED
    payment.refunded_amount = payment.amount
    payment.save(update_fields=["status", "refunded_amount"])
    record_change("payment.refunded", payment, actor, {"amount": payment.amount})
    logger.info("Payment %s refunded in full", payment.pk)
