"""What Carebook does with Stripe: open checkouts, and act on what Stripe says.

Carebook never trusts an event's body: it verifies the signature, records
the event id once, fetches the session, payment or charge from Stripe, and
acts on that state. Every change goes through the same services as the demo
gateway, which lock the rows they change, so a return redirect and a webhook
arriving together, duplicate events and events out of order all change
things once.
"""

import logging

from django.db import IntegrityError, transaction

from carebook.audit.services import PATIENT, WEBHOOK, Actor, record_change
from carebook.bookings import services as bookings
from carebook.bookings.models import Booking
from carebook.payments import services as payments
from carebook.payments import stripe_gateway as stripe_api
from carebook.payments.models import Payment, WebhookEvent
from carebook.practice.services import lock_provider

logger = logging.getLogger(__name__)

GATEWAY = "stripe"


def open_checkout(payment: Payment) -> str | None:
    """Return the Stripe page where the patient pays, opening it if need be.

    The session expires with the booking's hold; where Stripe needs a
    longer session, the hold is lengthened to match, so the two end
    together.
    """
    if payment.checkout_reference:
        # An expired or completed session has no page any more: None.
        session = stripe_api.retrieve_session(payment.checkout_reference)
        return session.url

    booking = payment.booking
    # A booking confirmed before it is paid holds no time for the payment;
    # its checkout lasts a fixed while from the payment's start, so a double
    # click asks Stripe for the same expiry.
    expires_at = stripe_api.session_expiry(
        booking.hold_expires_at or payment.created_at + payments.LATER_CHECKOUT_WINDOW
    )
    Booking.objects.filter(
        pk=booking.pk,
        status=Booking.Status.PENDING_PAYMENT,
        hold_expires_at__lt=expires_at,
    ).update(hold_expires_at=expires_at)

    description = f"{booking.provider.practice.name}: {booking.reference}"
    session = stripe_api.create_session(payment, expires_at, description)
    Payment.objects.filter(pk=payment.pk, checkout_reference="").update(
        checkout_reference=session.id
    )
    logger.info("Payment %s opened Stripe checkout", payment.pk)
    return session.url


def find_payment(session) -> Payment | None:
    """Return the payment a Checkout Session belongs to."""
    payment_id = _field(session.metadata, "payment_id")
    return (
        Payment.objects.filter(gateway=GATEWAY)
        .filter(checkout_reference=session.id)
        .first()
        or Payment.objects.filter(gateway=GATEWAY, pk=payment_id or 0).first()
    )


def sync_session(session, actor: Actor) -> str:
    """Bring the payment and booking in line with a session's current state."""
    payment = find_payment(session)
    if payment is None:
        logger.warning("Stripe session %s matches no payment", session.id)
        return "unknown"

    intent = session.payment_intent
    if session.payment_status == "paid":
        bookings.settle_payment(payment.pk, _id_of(intent), actor)
        return "paid"
    if session.status == "expired":
        bookings.end_unpaid_booking(payment.pk, "expired", actor)
        return "expired"
    if session.status == "complete" and intent is not None:
        if intent.status in ("requires_payment_method", "canceled"):
            reason = _decline_reason(intent) or "payment_failed"
            _fail_once(payment, reason, actor, _failed_charge(intent))
            return "failed"
        record_change("payment.processing", payment, actor)
        return "processing"
    return "open"


@transaction.atomic
def _fail_once(payment: Payment, reason: str, actor: Actor, charge: str) -> None:
    """Record a payment's failure and free its booking, if it is still open.

    One failure reaches Carebook several times (the session's events and
    the patient's return), so only the first that finds it open records it.
    """
    # The provider's lock first, as every change to a booking takes it.
    lock_provider(payment.provider_id)
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    if payment.status != Payment.Status.PENDING:
        return
    payments.record_decline(payment, reason, actor, charge)
    bookings.end_unpaid_booking(payment.pk, reason, actor)


def sync_return(session_id: str) -> None:
    """Act on a session when the patient comes back from Stripe's page."""
    sync_session(stripe_api.retrieve_session(session_id), PATIENT)


def handle_event(event) -> str:
    """Act once on a verified event; return what was done."""
    fetched = _fetch(event)
    with transaction.atomic():
        try:
            with transaction.atomic():
                WebhookEvent.objects.create(
                    gateway=GATEWAY, event_id=event.id, event_type=event.type
                )
        except IntegrityError:
            return "duplicate"
        if fetched is None:
            return "ignored"
        outcome = HANDLERS[event.type](fetched, event)
    logger.info("Stripe event %s (%s): %s", event.id, event.type, outcome)
    return outcome


def _fetch(event):
    """Return the current state of the object an event is about, or None."""
    data = event.data.object
    if event.type.startswith("checkout.session."):
        return stripe_api.retrieve_session(data.id)
    if event.type == "payment_intent.payment_failed":
        return stripe_api.client().v1.payment_intents.retrieve(data.id)
    if event.type == "charge.refunded":
        charge = stripe_api.retrieve_charge(data.id)
        return charge, stripe_api.refunded_elsewhere(data.id)
    if event.type == "charge.dispute.created":
        return stripe_api.retrieve_charge(data.charge)
    return None


def _on_session(session, event) -> str:
    return sync_session(session, WEBHOOK)


def _on_payment_failed(intent, event) -> str:
    payment = _payment_of_intent(intent)
    if payment is None:
        return "unknown"
    reason = _decline_reason(intent) or "declined"
    if not payments.record_decline(payment, reason, WEBHOOK, _failed_charge(intent)):
        return "duplicate"
    return "declined"


def _on_refunded(fetched, event) -> str:
    charge, refunded_elsewhere = fetched
    payment = _payment_of_intent(charge.payment_intent)
    if payment is None:
        return "unknown"
    refunded = stripe_api.from_stripe_amount(refunded_elsewhere, payment.currency)
    payments.record_gateway_refunds(payment, refunded, event.id)
    return "refund recorded"


def _on_dispute(charge, event) -> str:
    payment = _payment_of_intent(charge.payment_intent)
    if payment is None or not charge.disputed:
        return "unknown"
    amount = stripe_api.from_stripe_amount(charge.amount, payment.currency)
    payments.record_dispute(payment, amount)
    return "dispute recorded"


HANDLERS = {
    "checkout.session.completed": _on_session,
    "checkout.session.async_payment_succeeded": _on_session,
    "checkout.session.async_payment_failed": _on_session,
    "checkout.session.expired": _on_session,
    "payment_intent.payment_failed": _on_payment_failed,
    "charge.refunded": _on_refunded,
    "charge.dispute.created": _on_dispute,
}


def _payment_of_intent(intent) -> Payment | None:
    intent_id = _id_of(intent)
    payment = Payment.objects.filter(gateway=GATEWAY, gateway_reference=intent_id)
    if payment.exists():
        return payment.first()
    metadata = getattr(intent, "metadata", None)
    return Payment.objects.filter(
        gateway=GATEWAY, pk=_field(metadata, "payment_id") or 0
    ).first()


def _id_of(value) -> str:
    """Return an object's id whether Stripe sent the object or just its id."""
    return value if isinstance(value, str) else value.id


def _field(stripe_object, name: str):
    """Return a field of a Stripe object, or None where it is missing.

    The SDK's objects are not dicts: they have no `get`.
    """
    if stripe_object is None or name not in stripe_object:
        return None
    return stripe_object[name]


def _failed_charge(intent) -> str:
    """Return the id of the charge a failed try made, when Stripe says."""
    error = getattr(intent, "last_payment_error", None)
    charge = _field(error, "charge") if error else None
    charge = charge or getattr(intent, "latest_charge", None)
    return _id_of(charge) if charge else ""


def _decline_reason(intent) -> str:
    error = getattr(intent, "last_payment_error", None)
    if not error:
        return ""
    return _field(error, "decline_code") or _field(error, "code") or ""
