"""A stand-in for Stripe's API that the official SDK can talk to in tests.

StripeServer listens on 127.0.0.1 and answers the endpoints Carebook uses
the way Stripe does: form-encoded requests in bracket notation, JSON objects
and list objects back, error bodies that the SDK turns into its own
exception classes, idempotency keys and `expand`. What the patient does on
the hosted payment page is played by Python methods (`pay`, `decline`,
`pay_later`, ...), and webhook events come signed with Stripe's scheme:

    server = StripeServer()
    server.start()
    client = stripe.StripeClient("sk_test_x", base_addresses={"api": server.url})
    session = client.v1.checkout.sessions.create(params)
    server.pay(session.id)
    event = server.event("checkout.session.completed", session.id)
    body, signature = server.signed(event, "whsec_test")

Objects live in memory behind one lock. Every request to /v1 is kept in
`requests`, its form decoded into nested dicts and lists of the strings that
were sent. A refused request changes nothing. The server does not deliver
webhooks; tests post the signed events to Carebook themselves.
"""

import copy
import hashlib
import hmac
import html
import json
import re
import secrets
import string
import threading
import time
from base64 import b64decode
from dataclasses import dataclass, field
from decimal import Decimal
from email.message import Message
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

import stripe
from babel.numbers import format_currency, get_currency_precision, list_currencies

ALPHANUMERIC = string.ascii_letters + string.digits
MIN_EXPIRY_SECONDS = 30 * 60
MAX_EXPIRY_SECONDS = 24 * 60 * 60
IDEMPOTENCY_KEY_SECONDS = 24 * 60 * 60
DISPUTE_RESPONSE_SECONDS = 7 * 24 * 60 * 60


def names(text: str) -> frozenset[str]:
    """Return the set of the words in `text`."""
    return frozenset(text.split())


# Parameters Stripe knows. Those this server does not model are accepted and
# ignored; any other name is refused, as Stripe refuses it.
SESSION_PARAMS = names(
    """
    adaptive_pricing after_expiration allow_promotion_codes automatic_tax
    billing_address_collection branding_settings cancel_url
    client_reference_id consent_collection currency custom_fields custom_text
    customer customer_creation customer_email customer_update discounts
    excluded_payment_method_types expand expires_at invoice_creation
    line_items locale metadata mode optional_items payment_intent_data
    payment_method_collection payment_method_configuration payment_method_data
    payment_method_options payment_method_types phone_number_collection
    redirect_on_completion return_url saved_payment_method_options
    setup_intent_data shipping_address_collection shipping_options submit_type
    subscription_data success_url tax_id_collection ui_mode wallet_options
    """
)
LINE_ITEM_PARAMS = names(
    """
    adjustable_quantity dynamic_tax_rates metadata price price_data quantity
    tax_rates
    """
)
PRICE_DATA_PARAMS = names(
    """
    currency product product_data recurring tax_behavior unit_amount
    unit_amount_decimal
    """
)
PRODUCT_DATA_PARAMS = names("description images metadata name tax_code unit_label")
INTENT_DATA_PARAMS = names(
    """
    application_fee_amount capture_method description metadata on_behalf_of
    receipt_email setup_future_usage shipping statement_descriptor
    statement_descriptor_suffix transfer_data transfer_group
    """
)
REFUND_PARAMS = names(
    """
    amount charge currency customer expand instructions_email metadata origin
    payment_intent reason refund_application_fee reverse_transfer
    """
)
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
LIST_PARAMS = frozenset({"ending_before", "expand", "limit", "starting_after"})
EXPAND_ONLY = frozenset({"expand"})

# The event types tests may build, with the kind of object each carries.
EVENT_OBJECTS = {
    "checkout.session.completed": "checkout.session",
    "checkout.session.async_payment_succeeded": "checkout.session",
    "checkout.session.async_payment_failed": "checkout.session",
    "checkout.session.expired": "checkout.session",
    "payment_intent.succeeded": "payment_intent",
    "payment_intent.processing": "payment_intent",
    "payment_intent.payment_failed": "payment_intent",
    "charge.succeeded": "charge",
    "charge.pending": "charge",
    "charge.failed": "charge",
    "charge.refunded": "charge",
    "charge.dispute.created": "dispute",
    "refund.created": "refund",
}

DECLINE_MESSAGES = {
    "insufficient_funds": "Your card has insufficient funds.",
    "expired_card": "Your card has expired.",
    "incorrect_cvc": "Your card's security code is incorrect.",
    "processing_error": (
        "An error occurred while processing your card. Try again in a little bit."
    ),
}
CARD_DETAILS = {
    "type": "card",
    "card": {
        "brand": "visa",
        "country": "US",
        "exp_month": 12,
        "exp_year": 2034,
        "funding": "credit",
        "last4": "4242",
    },
}
SEPA_DETAILS = {
    "type": "sepa_debit",
    "sepa_debit": {"bank_code": "37040044", "country": "DE", "last4": "3000"},
}
APPROVED = {
    "network_status": "approved_by_network",
    "reason": None,
    "risk_level": "normal",
    "seller_message": "Payment complete.",
    "type": "authorized",
}
NO_API_KEY = (
    "You did not provide an API key. You need to provide your API key in the "
    "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
    "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for "
    "details, or we can help at https://support.stripe.com/."
)
KEY_PATTERN = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)")
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def new_id(prefix: str, length: int = 24) -> str:
    """Return a Stripe-like id such as `pi_3MtwBwLkdIwHu7ix28a3tqPa`."""
    return prefix + "_" + "".join(secrets.choice(ALPHANUMERIC) for _ in range(length))


def now() -> int:
    """Return the Unix time; tests move it with time_machine."""
    return int(time.time())


class StripeApiError(Exception):
    """An error answer, shaped like Stripe's `{"error": {...}}` body."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        param: str | None = None,
        code: str | None = None,
        error_type: str = "invalid_request_error",
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.param = param
        self.code = code
        self.error_type = error_type

    def body(self) -> dict:
        """Return the JSON body, leaving out what Stripe leaves out."""
        error = {"type": self.error_type, "message": self.message}
        if self.param is not None:
            error["param"] = self.param
        if self.code is not None:
            error["code"] = self.code
            slug = self.code.replace("_", "-")
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{slug}"
        return {"error": error}


@dataclass(frozen=True)
class ApiRequest:
    """One request to /v1 as the server received it."""

    method: str
    path: str
    params: dict
    headers: Message
    body: str


@dataclass
class _Answer:
    status: int
    body: bytes
    headers: dict[str, str]


@dataclass
class _State:
    """Everything a request may change, so a refused one can be undone."""

    objects: dict[str, dict] = field(default_factory=dict)
    line_items: dict[str, list[dict]] = field(default_factory=dict)
    intent_data: dict[str, dict] = field(default_factory=dict)


# Decoding and checking parameters.


def parse_form(text: str) -> dict:
    """Decode Stripe's bracket notation into nested dicts and lists.

    `line_items[0][quantity]=1` becomes `{"line_items": [{"quantity": "1"}]}`
    and `expand[]=a` appends to a list. Values stay the strings that were
    sent; metadata stays a dict whatever its keys.
    """
    tree: dict = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        match = KEY_PATTERN.fullmatch(key)
        parts = [key] if match is None else [match[1], *_bracketed(match[2])]
        _insert(tree, parts, value)
    return _listify(tree)


def _bracketed(text: str) -> list[str]:
    return re.findall(r"\[([^\[\]]*)\]", text)


def _insert(tree: dict, parts: list[str], value: str) -> None:
    node = tree
    for part in parts[:-1]:
        name = part or str(len(node))
        if not isinstance(node.get(name), dict):
            node[name] = {}
        node = node[name]
    node[parts[-1] or str(len(node))] = value


def _listify(node):
    if not isinstance(node, dict):
        return node
    children = {
        key: value if key == "metadata" else _listify(value)
        for key, value in node.items()
    }
    if children and all(key.isdigit() for key in children):
        return [children[key] for key in sorted(children, key=int)]
    return children


def _param(prefix: str, name: str) -> str:
    return f"{prefix}[{name}]" if prefix else name


def _reject_unknown(node: dict, allowed: frozenset, prefix: str = "") -> None:
    for name in node:
        if name not in allowed:
            param = _param(prefix, name)
            raise StripeApiError(
                f"Received unknown parameter: {param}",
                param=param,
                code="parameter_unknown",
            )


def _required(node: dict, name: str, prefix: str = ""):
    if node.get(name) in (None, ""):
        param = _param(prefix, name)
        raise StripeApiError(
            f"Missing required param: {param}.", param=param, code="parameter_missing"
        )
    return node[name]


def _optional(node: dict, name: str, check, prefix: str = ""):
    """Return `check(value, param)`, or None when the parameter is absent."""
    if name not in node:
        return None
    return check(node[name], _param(prefix, name))


def _hash(value, param: str) -> dict:
    if not isinstance(value, dict):
        raise StripeApiError("Invalid object", param=param)
    return value


def _string(value, param: str) -> str:
    if not isinstance(value, str):
        raise StripeApiError(
            f"Invalid string: {value!r}", param=param, code="parameter_invalid_string"
        )
    return value


def _integer(value, param: str, minimum: int | None = None) -> int:
    if not isinstance(value, str) or not re.fullmatch(r"-?\d+", value):
        raise StripeApiError(
            f"Invalid integer: {value}", param=param, code="parameter_invalid_integer"
        )
    number = int(value)
    if minimum is not None and number < minimum:
        raise StripeApiError(
            f"This value must be greater than or equal to {minimum}.",
            param=param,
            code="parameter_invalid_integer",
        )
    return number


def _url(value, param: str) -> str:
    parts = urlsplit(_string(value, param))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise StripeApiError("Not a valid URL", param=param, code="url_invalid")
    return value


def _currency(value, param: str) -> str:
    if not isinstance(value, str) or value.upper() not in list_currencies():
        raise StripeApiError(f"Invalid currency: {value}.", param=param)
    return value.lower()


def _email(value, param: str) -> str:
    if not EMAIL_PATTERN.fullmatch(_string(value, param)):
        raise StripeApiError(
            f"Invalid email address: {value}", param=param, code="email_invalid"
        )
    return value


def _metadata(node: dict, prefix: str = "") -> dict:
    """Return the metadata hash checked against Stripe's limits.

    An empty string unsets a key (or the whole hash), as in Stripe.
    """
    param = _param(prefix, "metadata")
    value = node.get("metadata", {})
    if value == "":
        return {}
    metadata = _hash(value, param)
    if len(metadata) > 50:
        raise StripeApiError(
            "Invalid metadata: metadata can have up to 50 keys, "
            f"but you specified {len(metadata)}.",
            param=param,
        )
    for key, item in metadata.items():
        _metadata_item(key, item, param)
    return {key: item for key, item in metadata.items() if item != ""}


def _metadata_item(key: str, value, param: str) -> None:
    _string(value, f"{param}[{key}]")
    if len(key) > 40:
        raise StripeApiError(
            "Invalid metadata: keys can be a maximum of 40 characters.", param=param
        )
    if len(value) > 500:
        raise StripeApiError(
            "Invalid metadata: values can be a maximum of 500 characters.",
            param=f"{param}[{key}]",
        )


def _choice(node: dict, name: str, choices: tuple[str, ...]) -> str | None:
    value = node.get(name)
    if value is not None and value not in choices:
        options = ", ".join(choices[:-1]) + f", or {choices[-1]}"
        raise StripeApiError(f"Invalid {name}: must be one of {options}", param=name)
    return value


def _money(amount: int, currency: str) -> str:
    """Format minor units the way Stripe's messages do, e.g. `€80.00`."""
    code = currency.upper()
    value = Decimal(amount).scaleb(-get_currency_precision(code))
    return format_currency(value, code, locale="en_US")


def _page(items: list[dict], url: str, params: dict) -> dict:
    """Return one page of a list object, with Stripe's cursors."""
    limit = _integer(params.get("limit", "10"), "limit", minimum=1)
    if limit > 100:
        raise StripeApiError(
            "This value must be less than or equal to 100.", param="limit"
        )
    ids = [item["id"] for item in items]
    if "starting_after" in params:
        start = _cursor(ids, params["starting_after"], "starting_after") + 1
    elif "ending_before" in params:
        start = max(0, _cursor(ids, params["ending_before"], "ending_before") - limit)
    else:
        start = 0
    page = items[start : start + limit]
    has_more = start > 0 if "ending_before" in params else start + limit < len(items)
    return {"object": "list", "data": page, "has_more": has_more, "url": url}


def _cursor(ids: list[str], value, param: str) -> int:
    if value not in ids:
        raise StripeApiError(
            f"No such object: '{value}'", param=param, code="resource_missing"
        )
    return ids.index(value)


# Answers.


def _json_answer(status: int, data: dict) -> _Answer:
    headers = {
        "Content-Type": "application/json",
        "Request-Id": new_id("req", 14),
    }
    return _Answer(status, json.dumps(data, indent=2).encode(), headers)


def _html_answer(status: int, body: str) -> _Answer:
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Stripe test checkout</title></head><body>{body}</body></html>"
    )
    return _Answer(status, page.encode(), {"Content-Type": "text/html"})


def _api_key(authorization: str) -> str:
    """Return the key from Bearer or Basic authorization, or ''."""
    scheme, _, credentials = authorization.partition(" ")
    if scheme == "Bearer":
        return credentials.strip()
    if scheme == "Basic":
        try:
            return b64decode(credentials).decode().partition(":")[0]
        except ValueError:
            return ""
    return ""


def _redacted(key: str) -> str:
    return key[:8] + "*" * max(len(key) - 12, 0) + key[-4:]


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, stripe_server: "StripeServer"):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.stripe_server = stripe_server


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer

    def do_GET(self) -> None:
        self._respond("GET")

    def do_POST(self) -> None:
        self._respond("POST")

    def do_DELETE(self) -> None:
        self._respond("DELETE")

    def _respond(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        answer = self.server.stripe_server._answer(
            method, self.path, body, self.headers
        )
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    def log_message(self, format, *args) -> None:
        """Keep the test output quiet."""


class StripeServer:
    """Stripe's API for the official SDK, on 127.0.0.1, for tests.

    With `api_key` given only that key is accepted; otherwise any test
    secret key (`sk_test_...` or `rk_test_...`). Control methods act as the
    patient, the bank or the dashboard would, and return a snapshot of the
    object they changed; they raise StripeApiError where Stripe would refuse.
    """

    def __init__(self, api_key: str | None = None):
        self.api_key = api_key
        self.requests: list[ApiRequest] = []
        self._state = _State()
        self._idempotent: dict[tuple[str, str], tuple[ApiRequest, _Answer, int]] = {}
        self._lock = threading.RLock()
        self._http: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        self._routes = self._route_table()

    def __enter__(self) -> "StripeServer":
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # Life cycle.

    def start(self) -> None:
        """Listen on a free port of 127.0.0.1 and serve in a thread."""
        self._http = _HttpServer(self)
        # A short poll interval, so that stop() returns at once.
        self._thread = threading.Thread(
            target=self._http.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="stripe-server",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and free the port; the objects stay readable."""
        if self._http is None:
            return
        self._http.shutdown()
        self._http.server_close()
        self._thread.join()
        self._http = None

    @property
    def url(self) -> str:
        """Return the base address, such as `http://127.0.0.1:54321`."""
        if self._http is None:
            raise RuntimeError("The Stripe server is not started.")
        host, port = self._http.server_address[:2]
        return f"http://{host}:{port}"

    # Reading state.

    def snapshot(self, object_id: str) -> dict:
        """Return a copy of any object by id, as the API would show it."""
        with self._lock:
            found = self._state.objects.get(object_id)
            if found is None:
                raise KeyError(f"No such object: {object_id}")
            self._refresh(found)
            return copy.deepcopy(found)

    def objects(self, kind: str) -> list[dict]:
        """Return copies of every object of a kind, oldest first.

        `kind` is the `object` field: "checkout.session", "payment_intent",
        "charge", "refund", "dispute" or "event".
        """
        with self._lock:
            ids = [
                object_id
                for object_id, found in self._state.objects.items()
                if found["object"] == kind
            ]
            return [self.snapshot(object_id) for object_id in ids]

    # What the patient, the bank and the dashboard do.

    def pay(self, session_id: str) -> dict:
        """Pay an open session by card; return the completed session."""
        with self._lock:
            session = self._open_session(session_id)
            intent = self._intent_for(session, "card")
            charge = self._new_charge(intent, "succeeded", CARD_DETAILS)
            self._settle(intent, charge)
            self._complete(session, "paid")
            return copy.deepcopy(session)

    def pay_later(self, session_id: str) -> dict:
        """Pay by SEPA debit: the session completes unpaid, money pending."""
        with self._lock:
            session = self._open_session(session_id)
            intent = self._intent_for(session, "sepa_debit")
            charge = self._new_charge(intent, "pending", SEPA_DETAILS)
            intent.update(status="processing", latest_charge=charge["id"])
            self._complete(session, "unpaid")
            return copy.deepcopy(session)

    def async_succeed(self, session_id: str) -> dict:
        """Let a pending debit clear; return the now paid session."""
        with self._lock:
            session, intent, charge = self._pending_payment(session_id)
            self._settle(intent, charge)
            session["payment_status"] = "paid"
            return copy.deepcopy(session)

    def async_fail(
        self, session_id: str, failure_code: str = "insufficient_funds"
    ) -> dict:
        """Let a pending debit bounce; the session stays complete and unpaid."""
        with self._lock:
            session, intent, charge = self._pending_payment(session_id)
            message = (
                "The customer's account has insufficient funds to cover this payment."
            )
            self._fail(intent, charge, failure_code, None, message)
            return copy.deepcopy(session)

    def decline(
        self,
        session_id: str,
        code: str = "card_declined",
        decline_code: str | None = None,
    ) -> dict:
        """Record a declined card on an open session; return the intent.

        The session stays open for another attempt, which reuses the intent.
        `decline_code` defaults to "generic_decline" for `card_declined` and
        to the code itself otherwise, as Stripe's test cards do.
        """
        with self._lock:
            session = self._open_session(session_id)
            intent = self._intent_for(session, "card")
            charge = self._new_charge(intent, "failed", CARD_DETAILS)
            if decline_code is None:
                decline_code = "generic_decline" if code == "card_declined" else code
            message = DECLINE_MESSAGES.get(decline_code, "Your card was declined.")
            self._fail(intent, charge, code, decline_code, message)
            return copy.deepcopy(intent)

    def expire(self, session_id: str) -> dict:
        """Expire an open session, as Stripe does at `expires_at`."""
        with self._lock:
            session = self._find("checkout.session", session_id, "session")
            self._expire(session)
            return copy.deepcopy(session)

    def refund_in_dashboard(self, charge_id: str, amount: int | None = None) -> dict:
        """Refund outside Carebook (all that is left by default); return it."""
        with self._lock:
            charge = self._find("charge", charge_id, "charge")
            return copy.deepcopy(self._refund(charge, amount, {}, None))

    def dispute(self, charge_id: str, reason: str = "fraudulent") -> dict:
        """Open a dispute on a paid charge; return the dispute."""
        with self._lock:
            charge = self._find("charge", charge_id, "charge")
            if charge["status"] != "succeeded" or charge["disputed"]:
                raise StripeApiError(f"Charge {charge_id} cannot be disputed.")
            charge["disputed"] = True
            dispute = self._new_dispute(charge, reason)
            return copy.deepcopy(dispute)

    # Webhook events.

    def event(self, event_type: str, obj) -> dict:
        """Return an event carrying a snapshot of `obj` (a dict, an SDK
        object or an id, read now), and keep it for GET /v1/events/{id}."""
        expected = EVENT_OBJECTS.get(event_type)
        if expected is None:
            raise ValueError(f"Unknown event type: {event_type}")
        with self._lock:
            data = self._event_object(obj)
            if data.get("object") != expected:
                raise ValueError(f"{event_type} carries a {expected} object.")
            event = {
                "id": new_id("evt"),
                "object": "event",
                "api_version": stripe.api_version,
                "created": now(),
                "data": {"object": data},
                "livemode": False,
                "pending_webhooks": 1,
                "request": {"id": None, "idempotency_key": None},
                "type": event_type,
            }
            self._state.objects[event["id"]] = event
            return copy.deepcopy(event)

    @staticmethod
    def signed(
        event: dict, secret: str, timestamp: int | None = None
    ) -> tuple[bytes, str]:
        """Return the body and `Stripe-Signature` header Stripe would send.

        The header is `t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">` keyed
        with the endpoint secret.
        """
        body = json.dumps(event, indent=2).encode()
        if timestamp is None:
            timestamp = now()
        signed_payload = f"{timestamp}.".encode() + body
        digest = hmac.new(secret.encode(), signed_payload, hashlib.sha256)
        return body, f"t={timestamp},v1={digest.hexdigest()}"

    # Answering HTTP.

    def _answer(self, method: str, target: str, body: str, headers: Message) -> _Answer:
        parts = urlsplit(target)
        if parts.path.startswith("/v1/"):
            return self._answer_api(method, parts.path, parts.query, body, headers)
        if parts.path.startswith("/pay/"):
            return self._answer_page(method, parts.path.removeprefix("/pay/"))
        return _Answer(404, b"Not found", {"Content-Type": "text/plain"})

    def _answer_api(
        self, method: str, path: str, query: str, body: str, headers: Message
    ) -> _Answer:
        params = {**parse_form(query), **parse_form(body)}
        request = ApiRequest(method, path, params, headers, body)
        with self._lock:
            self.requests.append(request)
            saved = copy.deepcopy(self._state)
            try:
                return self._execute(request)
            except StripeApiError as error:
                self._state = saved
                return _json_answer(error.status, error.body())

    def _execute(self, request: ApiRequest) -> _Answer:
        """Authenticate, replay or run the request, and save the answer."""
        api_key = self._authenticate(request.headers)
        handler, ids = self._route(request.method, request.path)
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or not key:
            return _json_answer(
                200, self._render(handler(request.params, *ids), request)
            )
        replay = self._replay(api_key, key, request)
        if replay is not None:
            return replay

        answer = _json_answer(200, self._render(handler(request.params, *ids), request))
        answer.headers["Idempotency-Key"] = key
        self._idempotent[(api_key, key)] = (request, answer, now())
        return answer

    def _authenticate(self, headers: Message) -> str:
        key = _api_key(headers.get("Authorization", ""))
        if not key:
            raise StripeApiError(NO_API_KEY, status=401)
        if self.api_key is not None:
            accepted = key == self.api_key
        else:
            accepted = key.startswith(("sk_test_", "rk_test_")) and len(key) > 8
        if not accepted:
            raise StripeApiError(
                f"Invalid API Key provided: {_redacted(key)}", status=401
            )
        return key

    def _route_table(self) -> list:
        retrieve = self._retrieve
        table = [
            ("POST", "/v1/checkout/sessions", self._create_session),
            (
                "GET",
                "/v1/checkout/sessions/{}",
                partial(retrieve, "checkout.session", "session"),
            ),
            ("POST", "/v1/checkout/sessions/{}/expire", self._expire_session),
            ("GET", "/v1/checkout/sessions/{}/line_items", self._list_line_items),
            (
                "GET",
                "/v1/payment_intents/{}",
                partial(retrieve, "payment_intent", "intent"),
            ),
            ("GET", "/v1/charges/{}", partial(retrieve, "charge", "charge")),
            ("POST", "/v1/refunds", self._create_refund),
            ("GET", "/v1/refunds", self._list_refunds),
            ("GET", "/v1/refunds/{}", partial(retrieve, "refund", "refund")),
            ("GET", "/v1/disputes/{}", partial(retrieve, "dispute", "dispute")),
            ("GET", "/v1/events/{}", partial(retrieve, "event", "id")),
        ]
        return [
            (method, re.compile(re.escape(path).replace(r"\{\}", "([^/]+)")), handler)
            for method, path, handler in table
        ]

    def _route(self, method: str, path: str):
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match is not None and route_method == method:
                return handler, [unquote(group) for group in match.groups()]
        raise StripeApiError(
            f"Unrecognized request URL ({method}: {path}). Please see "
            "https://stripe.com/docs or we can help at https://support.stripe.com/.",
            status=404,
        )

    def _replay(self, api_key: str, key: str, request: ApiRequest) -> _Answer | None:
        """Return the saved answer for a repeated key, or None if it is new.

        Stripe saves only answers of requests that ran, keeps keys for 24
        hours, and refuses a key reused for a different request.
        """
        saved = self._idempotent.get((api_key, key))
        if saved is None or now() - saved[2] > IDEMPOTENCY_KEY_SECONDS:
            return None
        original, answer, _ = saved
        if (original.method, original.path, original.params) != (
            request.method,
            request.path,
            request.params,
        ):
            raise StripeApiError(
                "Keys for idempotent requests can only be used with the same "
                "parameters they were first used with. Try using a key other "
                f"than '{key}' if you meant to execute a different request.",
                error_type="idempotency_error",
            )
        headers = {
            **answer.headers,
            "Idempotent-Replayed": "true",
            "Original-Request": answer.headers["Request-Id"],
            "Request-Id": new_id("req", 14),
        }
        return _Answer(answer.status, answer.body, headers)

    def _render(self, found: dict, request: ApiRequest) -> dict:
        """Return a copy of the object with the requested fields expanded."""
        paths = request.params.get("expand", [])
        if not isinstance(paths, list):
            raise StripeApiError(
                "Invalid array", param="expand", code="parameter_invalid_array"
            )
        rendered = copy.deepcopy(found)
        for path in paths:
            self._expand(rendered, _string(path, "expand").split("."), path)
        return rendered

    def _expand(self, node: dict, names: list[str], path: str) -> None:
        name, rest = names[0], names[1:]
        value = node.get(name)
        if name == "line_items" and node.get("object") == "checkout.session":
            value = copy.deepcopy(self._line_item_list(node["id"], {}))
        elif isinstance(value, str) and value in self._state.objects:
            value = copy.deepcopy(self._state.objects[value])
        elif name not in node or isinstance(value, str):
            raise StripeApiError(
                f"This property cannot be expanded ({path}).", param="expand"
            )
        node[name] = value
        children = value if isinstance(value, list) else [value]
        for child in children:
            if rest and isinstance(child, dict):
                self._expand(child, rest, path)

    # Endpoints.

    def _retrieve(self, kind: str, param: str, params: dict, object_id: str) -> dict:
        _reject_unknown(params, EXPAND_ONLY)
        return self._find(kind, object_id, param)

    def _create_session(self, params: dict) -> dict:
        """Check the parameters as Stripe does and open a session."""
        _reject_unknown(params, SESSION_PARAMS)
        if _required(params, "mode") != "payment":
            raise StripeApiError(
                "This test server supports only mode=payment.", param="mode"
            )
        if params.get("ui_mode", "hosted") != "hosted":
            raise StripeApiError(
                "This test server supports only ui_mode=hosted.", param="ui_mode"
            )

        created = now()
        items = self._parse_line_items(params, created)
        checked = {
            "cancel_url": _optional(params, "cancel_url", _url),
            "client_reference_id": _optional(params, "client_reference_id", _string),
            "customer_email": _optional(params, "customer_email", _email),
            "expires_at": self._parse_expires_at(params, created),
            "locale": _optional(params, "locale", _string),
            "metadata": _metadata(params),
            "success_url": _url(_required(params, "success_url"), "success_url"),
        }
        session = self._new_session(params, items, created, checked)
        self._state.intent_data[session["id"]] = self._parse_intent_data(params)
        return session

    def _new_session(
        self, params: dict, items: list[dict], created: int, checked: dict
    ) -> dict:
        session_id = new_id("cs_test", 58)
        total = sum(item["amount_total"] for item in items)
        session = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": total,
            "amount_total": total,
            "created": created,
            "currency": items[0]["currency"],
            "customer": None,
            "customer_details": None,
            "livemode": False,
            "mode": "payment",
            "payment_intent": None,
            "payment_method_types": params.get("payment_method_types", ["card"]),
            "payment_status": "unpaid",
            "status": "open",
            "submit_type": params.get("submit_type"),
            "ui_mode": "hosted",
            "url": f"{self.url}/pay/{session_id}",
            **checked,
        }
        self._state.objects[session_id] = session
        self._state.line_items[session_id] = items
        return session

    @staticmethod
    def _parse_expires_at(params: dict, created: int) -> int:
        if "expires_at" not in params:
            return created + MAX_EXPIRY_SECONDS
        expires_at = _integer(params["expires_at"], "expires_at")
        if expires_at < created + MIN_EXPIRY_SECONDS:
            raise StripeApiError(
                "The `expires_at` timestamp must be at least 30 minutes from "
                "Checkout Session creation.",
                param="expires_at",
            )
        if expires_at > created + MAX_EXPIRY_SECONDS:
            raise StripeApiError(
                "The `expires_at` timestamp must be less than 24 hours from "
                "Checkout Session creation.",
                param="expires_at",
            )
        return expires_at

    def _parse_line_items(self, params: dict, created: int) -> list[dict]:
        raw = _required(params, "line_items")
        if not isinstance(raw, list):
            raise StripeApiError(
                "Invalid array", param="line_items", code="parameter_invalid_array"
            )
        items = [
            self._parse_line_item(item, f"line_items[{index}]", created)
            for index, item in enumerate(raw)
        ]
        if len({item["currency"] for item in items}) > 1:
            raise StripeApiError(
                "All line items must have the same currency.", param="line_items"
            )
        return items

    @staticmethod
    def _parse_line_item(raw, prefix: str, created: int) -> dict:
        """Check one `price_data` line item and return Stripe's item object."""
        item = _hash(raw, prefix)
        _reject_unknown(item, LINE_ITEM_PARAMS, prefix)
        if "price" in item:
            raise StripeApiError(
                f"No such price: '{item['price']}'",
                param=f"{prefix}[price]",
                code="resource_missing",
            )
        price_prefix = f"{prefix}[price_data]"
        price_data = _hash(_required(item, "price_data", prefix), price_prefix)
        _reject_unknown(price_data, PRICE_DATA_PARAMS, price_prefix)
        currency = _currency(
            _required(price_data, "currency", price_prefix), f"{price_prefix}[currency]"
        )
        unit_amount = _integer(
            _required(price_data, "unit_amount", price_prefix),
            f"{price_prefix}[unit_amount]",
            minimum=0,
        )
        name = StripeServer._product_name(price_data, price_prefix)
        quantity = _integer(
            _required(item, "quantity", prefix), f"{prefix}[quantity]", minimum=1
        )
        return {
            "id": new_id("li"),
            "object": "item",
            "amount_discount": 0,
            "amount_subtotal": unit_amount * quantity,
            "amount_tax": 0,
            "amount_total": unit_amount * quantity,
            "currency": currency,
            "description": name,
            "price": {
                "id": new_id("price"),
                "object": "price",
                "active": False,
                "created": created,
                "currency": currency,
                "livemode": False,
                "metadata": {},
                "product": new_id("prod", 14),
                "type": "one_time",
                "unit_amount": unit_amount,
            },
            "quantity": quantity,
        }

    @staticmethod
    def _product_name(price_data: dict, prefix: str) -> str:
        if "product" in price_data:
            raise StripeApiError(
                f"No such product: '{price_data['product']}'",
                param=f"{prefix}[product]",
                code="resource_missing",
            )
        product_prefix = f"{prefix}[product_data]"
        product_data = _hash(
            _required(price_data, "product_data", prefix), product_prefix
        )
        _reject_unknown(product_data, PRODUCT_DATA_PARAMS, product_prefix)
        return _string(
            _required(product_data, "name", product_prefix), f"{product_prefix}[name]"
        )

    @staticmethod
    def _parse_intent_data(params: dict) -> dict:
        """Return what the session's future PaymentIntent will carry."""
        data = _hash(params.get("payment_intent_data", {}), "payment_intent_data")
        _reject_unknown(data, INTENT_DATA_PARAMS, "payment_intent_data")
        if data.get("capture_method", "automatic") not in (
            "automatic",
            "automatic_async",
        ):
            raise StripeApiError(
                "This test server supports only automatic capture.",
                param="payment_intent_data[capture_method]",
            )
        prefix = "payment_intent_data"
        return {
            "description": _optional(data, "description", _string, prefix),
            "metadata": _metadata(data, prefix),
            "receipt_email": _optional(data, "receipt_email", _email, prefix),
        }

    def _expire_session(self, params: dict, session_id: str) -> dict:
        _reject_unknown(params, EXPAND_ONLY)
        session = self._find("checkout.session", session_id, "session")
        self._expire(session)
        return session

    def _list_line_items(self, params: dict, session_id: str) -> dict:
        _reject_unknown(params, LIST_PARAMS)
        self._find("checkout.session", session_id, "session")
        return self._line_item_list(session_id, params)

    def _line_item_list(self, session_id: str, params: dict) -> dict:
        url = f"/v1/checkout/sessions/{session_id}/line_items"
        return _page(self._state.line_items[session_id], url, params)

    def _create_refund(self, params: dict) -> dict:
        _reject_unknown(params, REFUND_PARAMS)
        charge = self._charge_to_refund(params)
        amount = None
        if "amount" in params:
            amount = _integer(params["amount"], "amount", minimum=1)
        reason = _choice(params, "reason", REFUND_REASONS)
        return self._refund(charge, amount, _metadata(params), reason)

    def _charge_to_refund(self, params: dict) -> dict:
        """Return the charge named by `charge` or by `payment_intent`."""
        if "charge" in params:
            charge = self._find("charge", params["charge"], "charge", status=400)
            intent_id = params.get("payment_intent", charge["payment_intent"])
            if intent_id != charge["payment_intent"]:
                raise StripeApiError(
                    f"Charge {charge['id']} does not belong to {intent_id}.",
                    param="charge",
                )
            return charge
        if "payment_intent" not in params:
            raise StripeApiError(
                "One of the following params should be provided for this "
                "request: payment_intent or charge."
            )
        intent = self._find(
            "payment_intent", params["payment_intent"], "payment_intent", status=400
        )
        if intent["status"] != "succeeded":
            raise StripeApiError(
                f"This PaymentIntent ({intent['id']}) does not have a successful "
                "charge to refund.",
                param="payment_intent",
            )
        return self._state.objects[intent["latest_charge"]]

    def _list_refunds(self, params: dict) -> dict:
        _reject_unknown(params, LIST_PARAMS | {"charge", "payment_intent"})
        refunds = [
            found
            for found in reversed(self._state.objects.values())
            if found["object"] == "refund"
            and params.get("charge", found["charge"]) == found["charge"]
            and params.get("payment_intent", found["payment_intent"])
            == found["payment_intent"]
        ]
        return _page(refunds, "/v1/refunds", params)

    # The objects and their changes.

    def _find(self, kind: str, object_id, param: str, status: int = 404) -> dict:
        found = self._state.objects.get(object_id)
        if found is None or found["object"] != kind:
            raise StripeApiError(
                f"No such {kind}: '{object_id}'",
                status=status,
                param=param,
                code="resource_missing",
            )
        self._refresh(found)
        return found

    def _refresh(self, found: dict) -> None:
        """Expire an open session whose `expires_at` has passed."""
        if (
            found["object"] == "checkout.session"
            and found["status"] == "open"
            and now() >= found["expires_at"]
        ):
            found.update(status="expired", url=None)

    def _open_session(self, session_id: str) -> dict:
        session = self._find("checkout.session", session_id, "session")
        if session["status"] != "open":
            raise StripeApiError(
                f"Checkout Session {session_id} is {session['status']}; "
                "only an open session can be paid."
            )
        return session

    def _expire(self, session: dict) -> None:
        if session["status"] != "open":
            raise StripeApiError(
                'Only Checkout Sessions with a status in ["open"] can be expired. '
                f"This Checkout Session has a status of `{session['status']}`."
            )
        session.update(status="expired", url=None)

    def _complete(self, session: dict, payment_status: str) -> None:
        details = {
            "address": None,
            "email": session["customer_email"] or "patient@example.com",
            "name": "Jenny Rosen",
            "phone": None,
            "tax_exempt": "none",
            "tax_ids": [],
        }
        session.update(
            status="complete",
            payment_status=payment_status,
            customer_details=details,
            url=None,
        )

    def _intent_for(self, session: dict, method_type: str) -> dict:
        """Return the session's PaymentIntent, creating it on first attempt."""
        if session["payment_intent"] is not None:
            intent = self._state.objects[session["payment_intent"]]
            intent["payment_method_types"] = [method_type]
            return intent
        data = self._state.intent_data[session["id"]]
        intent_id = new_id("pi")
        intent = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": session["amount_total"],
            "amount_capturable": 0,
            "amount_received": 0,
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": "automatic_async",
            "client_secret": f"{intent_id}_secret_{new_id('x', 25)[2:]}",
            "confirmation_method": "automatic",
            "created": now(),
            "currency": session["currency"],
            "customer": None,
            "description": data["description"],
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": copy.deepcopy(data["metadata"]),
            "payment_method": None,
            "payment_method_types": [method_type],
            "receipt_email": data["receipt_email"],
            "status": "requires_payment_method",
        }
        self._state.objects[intent_id] = intent
        session["payment_intent"] = intent_id
        return intent

    def _new_charge(self, intent: dict, status: str, details: dict) -> dict:
        """Record a payment attempt on the intent as a charge."""
        charge_id = new_id("ch")
        method_id = new_id("pm")
        charge = {
            "id": charge_id,
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": 0,
            "amount_refunded": 0,
            "balance_transaction": None,
            "billing_details": {"email": intent["receipt_email"], "name": None},
            "captured": False,
            "created": now(),
            "currency": intent["currency"],
            "description": intent["description"],
            "disputed": False,
            "failure_code": None,
            "failure_message": None,
            "livemode": False,
            "metadata": copy.deepcopy(intent["metadata"]),
            "outcome": APPROVED,
            "paid": False,
            "payment_intent": intent["id"],
            "payment_method": method_id,
            "payment_method_details": copy.deepcopy(details),
            "receipt_email": intent["receipt_email"],
            "receipt_url": None,
            "refunded": False,
            "status": status,
        }
        self._state.objects[charge_id] = charge
        intent.update(payment_method=method_id, latest_charge=charge_id)
        return charge

    def _settle(self, intent: dict, charge: dict) -> None:
        charge.update(
            status="succeeded",
            paid=True,
            captured=True,
            amount_captured=charge["amount"],
            balance_transaction=new_id("txn"),
        )
        intent.update(
            status="succeeded",
            amount_received=intent["amount"],
            last_payment_error=None,
        )

    def _fail(
        self,
        intent: dict,
        charge: dict,
        code: str,
        decline_code: str | None,
        message: str,
    ) -> None:
        charge.update(
            status="failed",
            failure_code=code,
            failure_message=message,
            outcome={
                "network_status": "declined_by_network",
                "reason": decline_code,
                "risk_level": "normal",
                "seller_message": "The bank did not return any further details "
                "with this decline.",
                "type": "issuer_declined",
            },
        )
        error = StripeApiError(message, code=code, error_type="card_error")
        intent.update(
            status="requires_payment_method",
            last_payment_error={
                **error.body()["error"],
                "charge": charge["id"],
                "decline_code": decline_code,
                "payment_method": {
                    "id": charge["payment_method"],
                    "object": "payment_method",
                    **copy.deepcopy(charge["payment_method_details"]),
                },
            },
        )

    def _pending_payment(self, session_id: str) -> tuple[dict, dict, dict]:
        session = self._find("checkout.session", session_id, "session")
        intent = self._state.objects.get(session["payment_intent"] or "")
        if intent is None or intent["status"] != "processing":
            raise StripeApiError(
                f"Checkout Session {session_id} has no payment in processing."
            )
        return session, intent, self._state.objects[intent["latest_charge"]]

    def _refund(
        self, charge: dict, amount: int | None, metadata: dict, reason: str | None
    ) -> dict:
        """Refund `amount` (all that is left if None) of a paid charge."""
        self._check_refundable(charge)
        left = charge["amount"] - charge["amount_refunded"]
        amount = left if amount is None else amount
        if amount > left:
            currency = charge["currency"]
            raise StripeApiError(
                f"Refund amount ({_money(amount, currency)}) is greater than "
                f"unrefunded amount on charge ({_money(left, currency)})",
                param="amount",
            )

        refund = {
            "id": new_id("re"),
            "object": "refund",
            "amount": amount,
            "balance_transaction": new_id("txn"),
            "charge": charge["id"],
            "created": now(),
            "currency": charge["currency"],
            "metadata": metadata,
            "payment_intent": charge["payment_intent"],
            "reason": reason,
            "receipt_number": None,
            "status": "succeeded",
        }
        self._state.objects[refund["id"]] = refund
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        return refund

    @staticmethod
    def _check_refundable(charge: dict) -> None:
        if charge["disputed"]:
            raise StripeApiError(
                f"Charge {charge['id']} has been charged back; cannot issue a refund.",
                code="charge_disputed",
            )
        if charge["status"] != "succeeded":
            raise StripeApiError(
                f"Charge {charge['id']} has not succeeded; cannot issue a refund."
            )
        if charge["refunded"]:
            raise StripeApiError(
                f"Charge {charge['id']} has already been refunded.",
                code="charge_already_refunded",
            )

    def _new_dispute(self, charge: dict, reason: str) -> dict:
        created = now()
        dispute = {
            "id": new_id("dp"),
            "object": "dispute",
            "amount": charge["amount"],
            "charge": charge["id"],
            "created": created,
            "currency": charge["currency"],
            "evidence_details": {
                "due_by": created + DISPUTE_RESPONSE_SECONDS,
                "has_evidence": False,
                "past_due": False,
                "submission_count": 0,
            },
            "is_charge_refundable": False,
            "livemode": False,
            "metadata": {},
            "payment_intent": charge["payment_intent"],
            "reason": reason,
            "status": "needs_response",
        }
        self._state.objects[dispute["id"]] = dispute
        return dispute

    def _event_object(self, obj) -> dict:
        if isinstance(obj, str):
            return self.snapshot(obj)
        if isinstance(obj, stripe.StripeObject):
            return obj.to_dict()
        return copy.deepcopy(obj)

    # The hosted payment page, for browser tests.

    def _answer_page(self, method: str, session_id: str) -> _Answer:
        """Show the session; a POST pays it and redirects to `success_url`."""
        with self._lock:
            session = self._state.objects.get(session_id)
            if session is None or session["object"] != "checkout.session":
                return _html_answer(404, "<p>No such Checkout Session.</p>")
            self._refresh(session)
            if method == "POST" and session["status"] == "open":
                self.pay(session_id)
                target = session["success_url"].replace(
                    "{CHECKOUT_SESSION_ID}", session_id
                )
                return _Answer(303, b"", {"Location": target})
            return _html_answer(200, self._page_body(session))

    def _page_body(self, session: dict) -> str:
        amount = html.escape(_money(session["amount_total"], session["currency"]))
        if session["status"] != "open":
            return f"<p>This Checkout Session is {session['status']}.</p>"
        cancel = ""
        if session["cancel_url"]:
            cancel = f'<a href="{html.escape(session["cancel_url"])}">Cancel</a>'
        return (
            f"<h1>Pay {amount}</h1>"
            f'<form method="post"><button type="submit">Pay {amount}</button></form>'
            f"{cancel}"
        )
