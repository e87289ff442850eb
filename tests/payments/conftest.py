"""Payments against the local Stripe server, with the official SDK.

`stripe_settings` points Carebook at a running StripeServer; `book` makes a
booking through the API, `open_checkout` follows its payment link to a
Checkout Session, and `deliver` posts a signed event to Carebook's webhook
the way Stripe would. Time is frozen by `now`, which moves the server's
clock too, so session expiry and signature timestamps agree with Carebook.
"""

from urllib.parse import urlsplit

import pytest

from carebook.audit.models import AuditEntry
from carebook.bookings.models import Booking
from tests.stripe_server import StripeServer

API_KEY = "sk_test_carebook"
WEBHOOK_SECRET = "whsec_test"
WEBHOOK_PATH = "/pay/stripe-webhook/"


@pytest.fixture
def stripe_server(now):
    """Run a local Stripe server whose clock is the frozen test time."""
    with StripeServer() as server:
        yield server


@pytest.fixture
def stripe_settings(settings, stripe_server):
    """Send new payments through Stripe, that is, the local server."""
    settings.STRIPE_SECRET_KEY = API_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = stripe_server.url
    settings.CAREBOOK_BASE_URL = "http://testserver"
    return settings


@pytest.fixture
def book(client):
    """Return a function that books through the API and returns the answer."""

    def book(provider, start="2026-12-07T11:00:00Z", appointment_type="consultation"):
        answer = client.post(
            "/api/v1/bookings",
            {
                "provider": provider.pk,
                "appointment_type": appointment_type,
                "start": start,
                "patient": {"name": "Zoë Ní Bhriain", "email": "zoe@example.ie"},
            },
            content_type="application/json",
        )
        assert answer.status_code == 201, answer.content
        return answer.json()

    return book


@pytest.fixture
def open_checkout(client, stripe_settings):
    """Return a function that follows a payment link; it returns the session id."""

    def open_checkout(answer: dict) -> str:
        response = client.get(answer["payment_url"])
        assert response.status_code == 302
        return urlsplit(response["Location"]).path.rsplit("/", 1)[-1]

    return open_checkout


@pytest.fixture
def post_webhook(client, django_capture_on_commit_callbacks):
    """Return a function that posts a body and signature to the webhook."""

    def post_webhook(body: bytes, signature: str | None):
        headers = {} if signature is None else {"HTTP_STRIPE_SIGNATURE": signature}
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                WEBHOOK_PATH, body, content_type="application/json", **headers
            )

    return post_webhook


@pytest.fixture
def deliver(stripe_server, stripe_settings, post_webhook):
    """Return a function that delivers an event, signed, and returns the answer.

    It takes an event made by `stripe_server.event`, or an event type and
    the object (or its id) that the event carries, read now.
    """

    def deliver(event, obj=None):
        if isinstance(event, str):
            event = stripe_server.event(event, obj)
        return post_webhook(*StripeServer.signed(event, WEBHOOK_SECRET))

    return deliver


@pytest.fixture
def paid_through_stripe(book, open_checkout, stripe_server, deliver):
    """Return a function that books, pays by card and delivers the webhook.

    It returns the API answer and the Checkout Session's id.
    """

    def paid_through_stripe(provider, **booking):
        answer = book(provider, **booking)
        session_id = open_checkout(answer)
        stripe_server.pay(session_id)
        response = deliver("checkout.session.completed", session_id)
        assert response.json() == {"received": True, "outcome": "paid"}
        return answer, session_id

    return paid_through_stripe


@pytest.fixture
def return_from_stripe(client, django_capture_on_commit_callbacks):
    """Return a function that plays the patient coming back from Stripe."""

    def return_from_stripe(answer: dict, session_id: str):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.get(
                f"/booking/{answer['token']}/", {"session_id": session_id}
            )
        assert response.status_code == 302
        assert response["Location"] == f"/booking/{answer['token']}/"
        return response

    return return_from_stripe


def booking_of(answer: dict) -> Booking:
    """Return the booking an API answer is about, as it is now."""
    return Booking.objects.get(reference=answer["reference"])


def audit_actions(obj) -> list[str]:
    """Return the audit actions recorded for an object, oldest first."""
    return list(
        AuditEntry.objects.filter(
            object_type=obj._meta.label_lower, object_id=str(obj.pk)
        )
        .order_by("id")
        .values_list("action", flat=True)
    )


def outbox_templates(booking: Booking) -> list[str]:
    """Return the templates of the booking's outbox rows, oldest first."""
    return list(
        booking.outbox_messages.order_by("id").values_list("template", flat=True)
    )


def charge_of(stripe_server: StripeServer, session_id: str) -> str:
    """Return the id of the charge that paid a session."""
    intent_id = stripe_server.snapshot(session_id)["payment_intent"]
    return stripe_server.snapshot(intent_id)["latest_charge"]
