"""Payment gateways: where a patient goes to pay, and how money comes back.

A gateway sends the patient to a hosted page, so card numbers never touch
Carebook's database. The demo gateway's page lives inside Carebook and takes
test cards; it is the gateway used when no card processor is configured.
"""

from dataclasses import dataclass
from typing import Protocol

from django.urls import reverse

from carebook.payments.models import Payment


class PaymentGateway(Protocol):
    name: str

    def checkout_url(self, payment: Payment) -> str:
        """Return the address of the hosted page where the patient pays."""


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

    def charge_card(self, card_number: str) -> CardResult:
        """Return what a charge to this test card does."""
        digits = "".join(ch for ch in card_number if ch.isdigit())
        if digits == self.PAID_CARD:
            return CardResult(is_paid=True)
        return CardResult(
            is_paid=False,
            decline_reason=self.DECLINED_CARDS.get(digits, "card_declined"),
        )


def get_gateway() -> PaymentGateway:
    """Return the gateway this deployment takes payments through."""
    return DemoGateway()
