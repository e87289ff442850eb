"""Stripe: Checkout Sessions for payments, refunds, and what events mean.

Amounts go to Stripe in Stripe's units for the currency. Stripe counts most
currencies in hundredths, a documented list in whole units (JPY, KRW, …) and
a few in thousandths; Carebook counts in the ISO minor unit Babel knows.
The two agree for nearly every currency, and `to_stripe_amount` bridges the
rest (ISK, for one, has no minor unit in ISO but two digits at Stripe).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

import stripe
from django.conf import settings
from django.utils import timezone

from carebook.money import minor_digits

# From Stripe's list of currencies it counts in whole units.
STRIPE_ZERO_DECIMAL = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)
STRIPE_THREE_DECIMAL = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])
# Stripe refuses a Checkout Session that expires sooner than this.
SHORTEST_SESSION = timedelta(minutes=30)


def stripe_digits(currency: str) -> int:
    """Return how many decimal digits Stripe's unit for `currency` has."""
    code = currency.upper()
    if code in STRIPE_ZERO_DECIMAL:
        return 0
    if code in STRIPE_THREE_DECIMAL:
        return 3
    return 2


def to_stripe_amount(amount: int, currency: str) -> int:
    """Return a minor-unit amount in Stripe's units: 80.00 EUR is 8000."""
    shift = stripe_digits(currency) - minor_digits(currency)
    if shift >= 0:
        return amount * 10**shift
    whole, rest = divmod(amount, 10**-shift)
    if rest:
        raise ValueError(f"{amount} {currency} cannot be charged in Stripe's units")
    return whole


def from_stripe_amount(amount: int, currency: str) -> int:
    """Return an amount in Stripe's units as Carebook's minor units."""
    shift = minor_digits(currency) - stripe_digits(currency)
    if shift >= 0:
        return amount * 10**shift
    return amount // 10**-shift


def client() -> stripe.StripeClient:
    """Return a Stripe client for this deployment's key."""
    addresses = {"api": settings.STRIPE_API_BASE} if settings.STRIPE_API_BASE else {}
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses=addresses,
        max_network_retries=2,
    )


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str


def session_expiry(hold_expires_at: datetime) -> datetime:
    """Return when the session should expire: with the hold, if Stripe allows.

    A hold Stripe accepts is kept as it is, so a second request for the
    same checkout moments later (a double click) sends the same expiry, as
    the checkout's idempotency key requires.
    """
    now = timezone.now()
    if hold_expires_at >= now + SHORTEST_SESSION + timedelta(seconds=30):
        return hold_expires_at.replace(microsecond=0)
    return (now + SHORTEST_SESSION + timedelta(minutes=1)).replace(microsecond=0)


def create_session(payment, expires_at: datetime, description: str) -> CheckoutSession:
    """Open a Checkout Session for a payment; safe to call twice."""
    booking = payment.booking
    session = client().v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": payment.currency.lower(),
                        "unit_amount": to_stripe_amount(
                            payment.amount, payment.currency
                        ),
                        "product_data": {"name": description},
                    },
                }
            ],
            "customer_email": booking.patient_email,
            "client_reference_id": booking.reference,
            "metadata": {
                "booking_reference": booking.reference,
                "payment_id": str(payment.pk),
            },
            "payment_intent_data": {
                "metadata": {
                    "booking_reference": booking.reference,
                    "payment_id": str(payment.pk),
                }
            },
            "expires_at": int(expires_at.timestamp()),
            "success_url": payment.return_url + "?session_id={CHECKOUT_SESSION_ID}",
            "cancel_url": payment.return_url,
        },
        options={"idempotency_key": f"carebook-checkout-{payment.pk}"},
    )
    return CheckoutSession(id=session.id, url=session.url)


def retrieve_session(session_id: str):
    """Return the session as Stripe has it now, with its payment intent."""
    return client().v1.checkout.sessions.retrieve(
        session_id, params={"expand": ["payment_intent"]}
    )


def retrieve_charge(charge_id: str):
    return client().v1.charges.retrieve(charge_id)


def refunded_elsewhere(charge_id: str) -> int:
    """Return what was refunded of a charge outside Carebook, in Stripe's units.

    Carebook's own refunds carry the booking reference in their metadata;
    the job that made each one records it.
    """
    refunds = client().v1.refunds.list(params={"charge": charge_id, "limit": 100})
    return sum(
        refund.amount
        for refund in refunds.auto_paging_iter()
        if "booking_reference" not in refund.metadata
    )


def create_refund(payment, amount: int, idempotency_key: str, reason: str) -> str:
    """Refund part or all of a payment; return Stripe's refund id."""
    refund = client().v1.refunds.create(
        params={
            "payment_intent": payment.gateway_reference,
            "amount": to_stripe_amount(amount, payment.currency),
            "metadata": {
                "booking_reference": payment.booking.reference,
                "reason": reason,
            },
        },
        options={"idempotency_key": idempotency_key},
    )
    return refund.id


def construct_event(payload: bytes, signature: str):
    """Return the event a webhook carries; raise if its signature is wrong."""
    return stripe.Webhook.construct_event(
        payload, signature, settings.STRIPE_WEBHOOK_SECRET
    )
