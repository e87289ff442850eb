"""The local Stripe server answers the official SDK the way Stripe does.

Everything goes through `stripe.StripeClient` (or the module-level API) over
HTTP, so what these tests pin is what Carebook's payment code will see.
Time is frozen at MONDAY_MORNING by the `now` fixture.
"""

import http.client
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import stripe

from tests.conftest import MONDAY_MORNING
from tests.stripe_server import StripeServer

API_KEY = "sk_test_carebook"
WEBHOOK_SECRET = "whsec_carebook_test"
NOW = int(MONDAY_MORNING.timestamp())
SUCCESS_URL = "https://carebook.test/paid?session={CHECKOUT_SESSION_ID}"
CANCEL_URL = "https://carebook.test/cancelled"
TOO_SOON = (
    "The `expires_at` timestamp must be at least 30 minutes from Checkout "
    "Session creation."
)
TOO_LATE = (
    "The `expires_at` timestamp must be less than 24 hours from Checkout "
    "Session creation."
)


@pytest.fixture
def server(now):
    with StripeServer() as running:
        yield running


@pytest.fixture
def client(server):
    return stripe.StripeClient(
        API_KEY, base_addresses={"api": server.url}, max_network_retries=0
    )


def session_params(**changes) -> dict:
    """Return what Carebook sends for an 80.00 EUR consultation."""
    params = {
        "mode": "payment",
        "success_url": SUCCESS_URL,
        "cancel_url": CANCEL_URL,
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": "EUR",
                    "unit_amount": 8000,
                    "product_data": {"name": "Consultation"},
                },
            }
        ],
        "metadata": {"booking_reference": "BK-7Q2M"},
        "client_reference_id": "booking-42",
        "customer_email": "ada@example.com",
        "expires_at": NOW + 3600,
    }
    return params | changes


def paid_intent(client, server) -> str:
    """Create a session, pay it by card, and return its PaymentIntent id."""
    session = client.v1.checkout.sessions.create(session_params())
    return server.pay(session.id)["payment_intent"]


# Checkout Sessions.


def test_created_session_is_a_checkout_session_with_the_values_sent(client, server):
    session = client.v1.checkout.sessions.create(session_params())

    assert isinstance(session, stripe.checkout.Session)
    assert re.fullmatch(r"cs_test_[A-Za-z0-9]{58}", session.id)
    assert session.to_dict() == {
        "id": session.id,
        "object": "checkout.session",
        "amount_subtotal": 8000,
        "amount_total": 8000,
        "cancel_url": CANCEL_URL,
        "client_reference_id": "booking-42",
        "created": NOW,
        "currency": "eur",
        "customer": None,
        "customer_details": None,
        "customer_email": "ada@example.com",
        "expires_at": NOW + 3600,
        "livemode": False,
        "locale": None,
        "metadata": {"booking_reference": "BK-7Q2M"},
        "mode": "payment",
        "payment_intent": None,
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "status": "open",
        "submit_type": None,
        "success_url": SUCCESS_URL,
        "ui_mode": "hosted",
        "url": f"{server.url}/pay/{session.id}",
    }


def test_session_params_arrive_form_encoded_in_bracket_notation(client, server):
    client.v1.checkout.sessions.create(session_params())

    [request] = server.requests
    assert (request.method, request.path) == ("POST", "/v1/checkout/sessions")
    assert request.params["line_items"] == [
        {
            "quantity": "1",
            "price_data": {
                "currency": "EUR",
                "unit_amount": "8000",
                "product_data": {"name": "Consultation"},
            },
        }
    ]
    assert request.params["metadata"] == {"booking_reference": "BK-7Q2M"}
    assert "line_items[0][price_data][unit_amount]=8000" in request.body
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.headers["Stripe-Version"] == stripe.api_version


def test_amount_total_is_in_the_minor_units_sent_for_a_zero_decimal_currency(
    client, server
):
    line_item = {
        "quantity": 2,
        "price_data": {
            "currency": "JPY",
            "unit_amount": 4000,
            "product_data": {"name": "Follow-up"},
        },
    }

    session = client.v1.checkout.sessions.create(session_params(line_items=[line_item]))

    assert (session.amount_total, session.currency) == (8000, "jpy")
    unit_amount = server.requests[0].params["line_items"][0]["price_data"]
    assert unit_amount["unit_amount"] == "4000"


def test_replay_with_the_same_idempotency_key_returns_the_same_session(client, server):
    options = {"idempotency_key": "booking-42-checkout"}

    first = client.v1.checkout.sessions.create(session_params(), options)
    second = client.v1.checkout.sessions.create(session_params(), options)

    assert second.id == first.id
    assert second.last_response.headers["Idempotent-Replayed"] == "true"
    assert [found["id"] for found in server.objects("checkout.session")] == [first.id]


def test_key_reused_with_other_params_raises_idempotency_error(client, server):
    options = {"idempotency_key": "booking-42-checkout"}
    first = client.v1.checkout.sessions.create(session_params(), options)

    with pytest.raises(stripe.IdempotencyError) as raised:
        client.v1.checkout.sessions.create(
            session_params(client_reference_id="booking-43"), options
        )

    assert raised.value.http_status == 400
    assert raised.value.json_body == {
        "error": {
            "type": "idempotency_error",
            "message": "Keys for idempotent requests can only be used with the "
            "same parameters they were first used with. Try using a key other "
            "than 'booking-42-checkout' if you meant to execute a different "
            "request.",
        }
    }
    assert [found["id"] for found in server.objects("checkout.session")] == [first.id]


def test_concurrent_requests_with_one_key_create_one_session(client, server):
    options = {"idempotency_key": "booking-42-checkout"}
    barrier = threading.Barrier(8)

    def create(_):
        barrier.wait()
        return client.v1.checkout.sessions.create(session_params(), options).id

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = set(pool.map(create, range(8)))

    assert ids == {found["id"] for found in server.objects("checkout.session")}
    assert len(ids) == 1


@pytest.mark.parametrize(
    ("expires_in", "message"),
    [(29 * 60 + 59, TOO_SOON), (24 * 3600 + 1, TOO_LATE)],
    ids=["too-soon", "too-late"],
)
def test_expires_at_outside_30_minutes_to_24_hours_is_refused(
    client, server, expires_in, message
):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.checkout.sessions.create(session_params(expires_at=NOW + expires_in))

    assert (raised.value.http_status, raised.value.param) == (400, "expires_at")
    assert raised.value.json_body == {
        "error": {
            "type": "invalid_request_error",
            "message": message,
            "param": "expires_at",
        }
    }
    assert server.objects("checkout.session") == []


@pytest.mark.parametrize("expires_in", [30 * 60, 24 * 3600])
def test_expires_at_at_either_limit_is_accepted(client, expires_in):
    session = client.v1.checkout.sessions.create(
        session_params(expires_at=NOW + expires_in)
    )

    assert session.expires_at == NOW + expires_in


def test_missing_quantity_is_refused_with_its_param(client, server):
    line_item = {
        "price_data": {
            "currency": "eur",
            "unit_amount": 8000,
            "product_data": {"name": "Consultation"},
        }
    }

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.checkout.sessions.create(session_params(line_items=[line_item]))

    assert raised.value.param == "line_items[0][quantity]"
    assert raised.value.code == "parameter_missing"
    assert raised.value.user_message == (
        "Missing required param: line_items[0][quantity]."
    )
    assert server.objects("checkout.session") == []


def test_unknown_parameter_is_refused(client, server):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.checkout.sessions.create(session_params(booking="BK-7Q2M"))

    assert (raised.value.param, raised.value.code) == ("booking", "parameter_unknown")
    assert raised.value.user_message == "Received unknown parameter: booking"
    assert server.objects("checkout.session") == []


def test_retrieve_expands_the_payment_intent_of_a_paid_session(client, server):
    session = client.v1.checkout.sessions.create(session_params())
    server.pay(session.id)

    found = client.v1.checkout.sessions.retrieve(
        session.id, {"expand": ["payment_intent"]}
    )

    assert (found.status, found.payment_status, found.url) == (
        "complete",
        "paid",
        None,
    )
    assert isinstance(found.payment_intent, stripe.PaymentIntent)
    assert found.payment_intent.status == "succeeded"
    assert found.payment_intent.amount_received == 8000
    assert found.payment_intent.currency == "eur"
    assert re.fullmatch(r"ch_[A-Za-z0-9]{24}", found.payment_intent.latest_charge)
    assert server.requests[-1].params == {"expand": ["payment_intent"]}


def test_retrieve_expands_the_latest_charge_through_the_payment_intent(client, server):
    session = client.v1.checkout.sessions.create(session_params())
    server.pay(session.id)

    found = client.v1.checkout.sessions.retrieve(
        session.id, {"expand": ["payment_intent.latest_charge"]}
    )

    charge = found.payment_intent.latest_charge
    assert isinstance(charge, stripe.Charge)
    assert (charge.status, charge.paid, charge.amount, charge.amount_refunded) == (
        "succeeded",
        True,
        8000,
        0,
    )
    assert charge.payment_intent == found.payment_intent.id


def test_unknown_session_is_404_resource_missing(client):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.checkout.sessions.retrieve("cs_test_unknown")

    assert raised.value.http_status == 404
    assert raised.value.code == "resource_missing"
    assert raised.value.user_message == "No such checkout.session: 'cs_test_unknown'"


def test_line_items_list_the_items_sent(client):
    session = client.v1.checkout.sessions.create(session_params())

    items = client.v1.checkout.sessions.line_items.list(session.id)

    assert items.has_more is False
    assert [
        (item.description, item.quantity, item.amount_total, item.price.unit_amount)
        for item in items.data
    ] == [("Consultation", 1, 8000, 8000)]


def test_expire_closes_an_open_session(client):
    session = client.v1.checkout.sessions.create(session_params())

    expired = client.v1.checkout.sessions.expire(session.id)

    assert (expired.id, expired.status, expired.url) == (session.id, "expired", None)


def test_expiring_a_completed_session_is_refused(client, server):
    session = client.v1.checkout.sessions.create(session_params())
    server.pay(session.id)

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.checkout.sessions.expire(session.id)

    assert raised.value.user_message == (
        'Only Checkout Sessions with a status in ["open"] can be expired. '
        "This Checkout Session has a status of `complete`."
    )
    assert server.snapshot(session.id)["status"] == "complete"


def test_session_past_its_expires_at_reads_as_expired(client, now):
    session = client.v1.checkout.sessions.create(session_params())

    now.shift(timedelta(hours=1))
    found = client.v1.checkout.sessions.retrieve(session.id)

    assert (found.status, found.url) == ("expired", None)


# Payment attempts.


def test_declined_card_leaves_the_session_open_and_the_next_try_reuses_the_intent(
    client, server
):
    session = client.v1.checkout.sessions.create(session_params())

    declined = server.decline(session.id, decline_code="insufficient_funds")

    intent = client.v1.payment_intents.retrieve(declined["id"])
    assert intent.status == "requires_payment_method"
    error = intent.last_payment_error
    assert (error.type, error.code, error.decline_code, error.message) == (
        "card_error",
        "card_declined",
        "insufficient_funds",
        "Your card has insufficient funds.",
    )
    assert client.v1.charges.retrieve(intent.latest_charge).status == "failed"
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"

    paid = server.pay(session.id)

    assert paid["payment_intent"] == intent.id
    assert server.snapshot(intent.id)["status"] == "succeeded"


def test_debit_paid_later_completes_unpaid_then_succeeds(client, server):
    session = client.v1.checkout.sessions.create(session_params())

    pending = server.pay_later(session.id)
    processing = client.v1.payment_intents.retrieve(pending["payment_intent"])
    server.async_succeed(session.id)

    assert (pending["status"], pending["payment_status"]) == ("complete", "unpaid")
    assert processing.status == "processing"
    found = client.v1.checkout.sessions.retrieve(session.id)
    assert (found.status, found.payment_status) == ("complete", "paid")
    assert server.snapshot(processing.id)["status"] == "succeeded"


def test_debit_that_bounces_leaves_the_session_complete_and_unpaid(client, server):
    session = client.v1.checkout.sessions.create(session_params())
    intent_id = server.pay_later(session.id)["payment_intent"]

    server.async_fail(session.id)

    found = client.v1.checkout.sessions.retrieve(session.id)
    assert (found.status, found.payment_status) == ("complete", "unpaid")
    intent = client.v1.payment_intents.retrieve(intent_id)
    assert (intent.status, intent.last_payment_error.code) == (
        "requires_payment_method",
        "insufficient_funds",
    )


# Refunds.


def test_full_refund_by_payment_intent_marks_the_charge_refunded(client, server):
    intent_id = paid_intent(client, server)

    refund = client.v1.refunds.create(
        {"payment_intent": intent_id, "metadata": {"booking_reference": "BK-7Q2M"}}
    )

    assert isinstance(refund, stripe.Refund)
    assert re.fullmatch(r"re_[A-Za-z0-9]{24}", refund.id)
    assert (refund.status, refund.amount, refund.currency) == ("succeeded", 8000, "eur")
    assert refund.payment_intent == intent_id
    assert refund.metadata.to_dict() == {"booking_reference": "BK-7Q2M"}
    charge = client.v1.charges.retrieve(refund.charge)
    assert (charge.amount_refunded, charge.refunded) == (8000, True)


def test_partial_refunds_add_up_and_an_over_refund_is_refused(client, server):
    intent_id = paid_intent(client, server)
    client.v1.refunds.create({"payment_intent": intent_id, "amount": 3000})
    second = client.v1.refunds.create({"payment_intent": intent_id, "amount": 4000})

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.refunds.create({"payment_intent": intent_id, "amount": 1001})

    assert (raised.value.http_status, raised.value.param) == (400, "amount")
    assert raised.value.user_message == (
        "Refund amount (€10.01) is greater than unrefunded amount on charge (€10.00)"
    )
    charge = client.v1.charges.retrieve(second.charge)
    assert (charge.amount_refunded, charge.refunded) == (7000, False)
    assert len(server.objects("refund")) == 2


def test_refunding_a_fully_refunded_charge_is_refused(client, server):
    intent_id = paid_intent(client, server)
    client.v1.refunds.create({"payment_intent": intent_id})

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.refunds.create({"payment_intent": intent_id})

    charge_id = server.snapshot(intent_id)["latest_charge"]
    assert raised.value.code == "charge_already_refunded"
    assert raised.value.user_message == (
        f"Charge {charge_id} has already been refunded."
    )
    assert len(server.objects("refund")) == 1


def test_refund_replayed_with_its_key_is_not_made_twice(client, server):
    intent_id = paid_intent(client, server)
    params = {"payment_intent": intent_id, "amount": 2000}
    options = {"idempotency_key": "refund-BK-7Q2M-1"}

    first = client.v1.refunds.create(params, options)
    second = client.v1.refunds.create(params, options)

    assert second.id == first.id
    assert server.snapshot(first.charge)["amount_refunded"] == 2000


def test_dashboard_refund_counts_against_what_is_left(client, server):
    intent_id = paid_intent(client, server)
    charge_id = server.snapshot(intent_id)["latest_charge"]

    server.refund_in_dashboard(charge_id, 5000)

    with pytest.raises(stripe.InvalidRequestError):
        client.v1.refunds.create({"charge": charge_id, "amount": 3001})
    refunds = client.v1.refunds.list({"payment_intent": intent_id})
    assert [refund.amount for refund in refunds.data] == [5000]


def test_disputed_charge_cannot_be_refunded(client, server):
    intent_id = paid_intent(client, server)
    charge_id = server.snapshot(intent_id)["latest_charge"]

    dispute = server.dispute(charge_id)

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.refunds.create({"payment_intent": intent_id})
    assert raised.value.code == "charge_disputed"
    assert (dispute["status"], dispute["amount"], dispute["charge"]) == (
        "needs_response",
        8000,
        charge_id,
    )
    assert server.objects("refund") == []


# Webhook events.


def test_construct_event_accepts_a_signed_event(client, server):
    session = client.v1.checkout.sessions.create(session_params())
    server.pay(session.id)
    event = server.event("checkout.session.completed", session.id)

    body, signature = server.signed(event, WEBHOOK_SECRET)
    verified = stripe.Webhook.construct_event(body, signature, WEBHOOK_SECRET)

    assert isinstance(verified, stripe.Event)
    assert re.fullmatch(r"evt_[A-Za-z0-9]{24}", verified.id)
    assert (verified.type, verified.created, verified.livemode) == (
        "checkout.session.completed",
        NOW,
        False,
    )
    assert verified.api_version == stripe.api_version
    completed = verified.data.object
    assert (completed.id, completed.payment_status) == (session.id, "paid")
    assert completed.metadata.to_dict() == {"booking_reference": "BK-7Q2M"}
    assert signature.startswith(f"t={NOW},v1=")


def spoil_secret(body, signature):
    return body, signature, "whsec_someone_else"


def spoil_body(body, signature):
    return body.replace(b'"paid"', b'"unpaid"'), signature, WEBHOOK_SECRET


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (spoil_secret, "No signatures found matching the expected signature"),
        (spoil_body, "No signatures found matching the expected signature"),
    ],
    ids=["wrong-secret", "tampered-body"],
)
def test_construct_event_refuses_a_forged_event(client, server, spoil, message):
    session = client.v1.checkout.sessions.create(session_params())
    event = server.event("checkout.session.completed", server.pay(session.id))
    body, signature, secret = spoil(*server.signed(event, WEBHOOK_SECRET))

    with pytest.raises(stripe.SignatureVerificationError) as raised:
        stripe.Webhook.construct_event(body, signature, secret)

    assert raised.value.user_message == f"{message} for payload"


def test_construct_event_refuses_a_timestamp_older_than_the_tolerance(server):
    event = server.event("charge.dispute.created", {"object": "dispute"})
    body, signature = server.signed(event, WEBHOOK_SECRET, timestamp=NOW - 301)

    with pytest.raises(stripe.SignatureVerificationError) as raised:
        stripe.Webhook.construct_event(body, signature, WEBHOOK_SECRET)

    assert raised.value.user_message == (
        f"Timestamp outside the tolerance zone ({NOW - 301})"
    )


def test_event_refuses_an_object_of_another_kind(client, server):
    session = client.v1.checkout.sessions.create(session_params())

    with pytest.raises(ValueError, match=r"^charge.refunded carries a charge object"):
        server.event("charge.refunded", session.id)


# Authentication, the module-level API and the hosted page.


def test_wrong_api_key_gets_authentication_error_and_creates_nothing(server):
    outsider = stripe.StripeClient(
        "sk_live_not_ours_1234", base_addresses={"api": server.url}
    )

    with pytest.raises(stripe.AuthenticationError) as raised:
        outsider.v1.checkout.sessions.create(session_params())

    assert raised.value.http_status == 401
    assert raised.value.user_message == (
        "Invalid API Key provided: sk_live_*********1234"
    )
    assert server.objects("checkout.session") == []


def test_module_level_api_reaches_the_server(server, monkeypatch):
    monkeypatch.setattr(stripe, "api_key", API_KEY)
    monkeypatch.setattr(stripe, "api_base", server.url)

    session = stripe.checkout.Session.create(**session_params())
    found = stripe.checkout.Session.retrieve(session.id)

    assert isinstance(found, stripe.checkout.Session)
    assert (found.id, found.amount_total) == (session.id, 8000)


def test_paying_on_the_hosted_page_redirects_to_the_success_url(client, server):
    session = client.v1.checkout.sessions.create(session_params())
    address = urlsplit(session.url)

    connection = http.client.HTTPConnection(address.netloc)
    connection.request("POST", address.path)
    response = connection.getresponse()
    connection.close()

    assert response.status == 303
    assert response.getheader("Location") == (
        f"https://carebook.test/paid?session={session.id}"
    )
    assert server.snapshot(session.id)["payment_status"] == "paid"
