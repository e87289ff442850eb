"""Payment gateways: where a patient goes to pay, and how money comes back.

A gateway sends the patient to a hosted page, so card numbers never touch
Carebook's database. Stripe is used when STRIPE_SECRET_KEY is set; otherwise
the demo gateway, whose page lives inside Carebook and takes test cards.
"""

from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.urls import reverse

from carebook.payments import stripe_gateway
from carebook.payments.models import Payment, Refund


class PaymentGateway(Protocol):
    name: str

    def checkout_url(self, payment: Payment) -> str:
        """Return Carebook's address that leads the patient to pay."""

    def refund(self, refund: Refund) -> str:
        """Give the refund's amount back; return the gateway's reference.

        Calling it again with the same refund gives the money back once.
        """


@dataclass(frozen=True)
class CardResult:
    is_paid: bool
    decline_reason: str = ""


class DemoGateway:
    """A stand-in for a card processor, for demos and tests.

    Its cards mirror the well-known test cards of card processors.
    """

    name = "demo"
    PAID_CARD = "4242424242424242"
    DECLINED_CARDS = {
        "4000000000000002": "card_declined",
        "4000000000009995": "insufficient_funds",
        "4000000000000069": "expired_card",
    }

    def checkout_url(self, payment: Payment) -> str:
        return reverse("payments:demo_checkout", args=[payment.checkout_token])

    def refund(self, refund: Refund) -> str:
        # No money moved, so none goes back; the reference is stable.
        return f"demo_{refund.idempotency_key}"

    def charge_card(self, card_number: str) -> CardResult:
        """Return what a charge to this test card does."""
        digits = "".join(ch for ch in card_number if ch.isdigit())
        if digits == self.PAID_CARD:
            return CardResult(is_paid=True)
        return CardResult(
            is_paid=False,
            decline_reason=self.DECLINED_CARDS.get(digits, "card_declined"),
        )


class StripeGateway:
    """Stripe Checkout: the patient pays on Stripe's page."""

    name = "stripe"

    def checkout_url(self, payment: Payment) -> str:
        return reverse("payments:stripe_checkout", args=[payment.checkout_token])

    def refund(self, refund: Refund) -> str:
        return stripe_gateway.create_refund(
            refund.payment, refund.amount, refund.idempotency_key, refund.reason
        )


GATEWAYS = {gateway.name: gateway for gateway in (DemoGateway(), StripeGateway())}


def get_gateway(name: str | None = None) -> PaymentGateway:
    """Return a gateway by name, or the one new payments go through."""
    if name is None:
        name = StripeGateway.name if settings.STRIPE_SECRET_KEY else DemoGateway.name
    return GATEWAYS[name]
