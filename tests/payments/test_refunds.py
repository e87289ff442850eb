"""The cancellation policy, and refunds through the demo gateway and Stripe.

Time is frozen at Monday 2026-12-07 08:00 UTC. The bookings below are for
Tuesday 10:00 UTC (10:00 in Dublin), 26 hours later; the practice's default
policy is free cancellation until 24 hours before, Monday 10:00, and no
refund after it.
"""

from datetime import UTC, datetime, timedelta

import pytest
import stripe

from carebook.audit.models import ActorKind, AuditEntry
from carebook.audit.services import SYSTEM, Actor
from carebook.bookings.services import WrongState, cancel_booking
from carebook.payments import services as payments
from carebook.payments import stripe_gateway
from carebook.payments import tasks as payment_tasks
from carebook.payments.models import Payment, Refund
from carebook.payments.policy import CancellationPolicy
from carebook.practice.models import Service
from tests.conftest import MONDAY_MORNING
from tests.payments.conftest import audit_actions, booking_of, charge_of

TUESDAY = "2026-12-08T10:00:00Z"
START = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
FREE_UNTIL = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
RETRY = timedelta(seconds=300)


# The policy on its own.


@pytest.mark.parametrize(
    ("cancelled_at", "refund"),
    [
        (FREE_UNTIL - timedelta(hours=2), 8000),
        (FREE_UNTIL, 8000),
        (FREE_UNTIL + timedelta(seconds=1), 6000),
        (START, 6000),
    ],
    ids=["well-before", "exactly-24-hours-before", "one-second-later", "at-start"],
)
def test_policy_is_free_until_the_limit_and_keeps_the_fee_after(cancelled_at, refund):
    policy = CancellationPolicy(free_hours=24, fee_percent=25)

    assert policy.free_until(START) == FREE_UNTIL
    assert policy.refund(8000, START, cancelled_at) == refund


@pytest.mark.parametrize(
    ("paid", "fee_percent", "refund"),
    [
        (8000, 25, 6000),
        (8001, 25, 6001),  # fee 2000.25 rounds down to 2000
        (8002, 25, 6001),  # fee 2000.50 rounds half up to 2001
        (3, 50, 1),  # fee 1.5 rounds half up to 2
        (1, 50, 0),
        (8000, 0, 8000),
        (8000, 100, 0),
    ],
)
def test_late_fee_is_rounded_to_the_nearest_unit_halves_up(paid, fee_percent, refund):
    policy = CancellationPolicy(free_hours=24, fee_percent=fee_percent)

    assert policy.refund(paid, START, START) == refund


def test_appointment_types_own_policy_overrides_the_practices(consultation):
    practice = consultation.practice
    practice.free_cancellation_hours = 24
    practice.late_cancellation_fee_percent = 100
    consultation.free_cancellation_hours = 48
    consultation.late_cancellation_fee_percent = 0

    assert CancellationPolicy.for_appointment(consultation) == CancellationPolicy(
        free_hours=48, fee_percent=0
    )


def test_appointment_type_without_its_own_policy_uses_the_practices(consultation):
    practice = consultation.practice
    practice.free_cancellation_hours = 12
    practice.late_cancellation_fee_percent = 40

    assert CancellationPolicy.for_appointment(consultation) == CancellationPolicy(
        free_hours=12, fee_percent=40
    )


# Paid bookings through either gateway.


class Paid:
    """A confirmed booking paid through one gateway, and what it gave back."""

    def __init__(self, gateway: str, answer: dict, stripe_server=None):
        self.gateway = gateway
        self.answer = answer
        self.stripe_server = stripe_server

    @property
    def booking(self):
        return booking_of(self.answer)

    @property
    def payment(self) -> Payment:
        return self.booking.payments.get()

    def refunded_at_gateway(self) -> list[int]:
        """Return the amounts the gateway gave back, oldest first."""
        if self.gateway == "stripe":
            return [refund["amount"] for refund in self.stripe_server.objects("refund")]
        # The demo gateway moves no money; its refunds are its references.
        return list(
            Refund.objects.filter(gateway_reference__startswith="demo_")
            .order_by("id")
            .values_list("amount", flat=True)
        )


@pytest.fixture
def pay_by_demo_card(client, book, settings, django_capture_on_commit_callbacks):
    """Return a function that books and pays with the demo gateway's card."""
    settings.STRIPE_SECRET_KEY = ""
    settings.CAREBOOK_BASE_URL = "http://testserver"

    def pay_by_demo_card(provider, **booking) -> dict:
        answer = book(provider, **booking)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                answer["payment_url"],
                {"card_number": "4242 4242 4242 4242", "expiry": "12/30", "cvc": "123"},
            )
        assert response.status_code == 302
        return answer

    return pay_by_demo_card


@pytest.fixture(params=["demo", "stripe"])
def pay(request, provider, now):
    """Return a function that makes a paid booking through each gateway."""
    if request.param == "demo":
        pay_by_demo_card = request.getfixturevalue("pay_by_demo_card")
        return lambda **booking: Paid("demo", pay_by_demo_card(provider, **booking))

    paid_through_stripe = request.getfixturevalue("paid_through_stripe")
    stripe_server = request.getfixturevalue("stripe_server")
    return lambda **booking: Paid(
        "stripe", paid_through_stripe(provider, **booking)[0], stripe_server
    )


@pytest.fixture
def cancel(django_capture_on_commit_callbacks, jobs):
    """Return a function that cancels a booking and runs the refund job."""

    def cancel(booking, actor=SYSTEM):
        with django_capture_on_commit_callbacks(execute=True):
            cancelled = cancel_booking(booking, actor)
        jobs.run()
        return cancelled

    return cancel


def test_free_cancellation_refunds_everything_through_the_gateway(pay, cancel):
    paid = pay(start=TUESDAY)

    cancel(paid.booking)

    payment = paid.payment
    [refund] = payment.refunds.all()
    assert (refund.reason, refund.amount, refund.currency, refund.status) == (
        "cancellation",
        8000,
        "EUR",
        "succeeded",
    )
    # The day the money went back, for the dashboard's revenue.
    assert refund.completed_at == MONDAY_MORNING
    assert (payment.status, payment.refunded_amount) == ("refunded", 8000)
    assert paid.refunded_at_gateway() == [8000]
    assert paid.booking.status == "cancelled"
    assert audit_actions(refund) == ["refund.requested", "refund.succeeded"]


def test_cancellation_exactly_at_the_limit_is_free(pay, cancel, provider, now):
    provider.practice.late_cancellation_fee_percent = 25
    provider.practice.save()
    paid = pay(start=TUESDAY)
    now.move_to(FREE_UNTIL)

    cancel(paid.booking)

    assert list(paid.payment.refunds.values_list("amount", flat=True)) == [8000]
    assert paid.refunded_at_gateway() == [8000]


def test_cancellation_one_second_after_the_limit_keeps_the_late_fee(
    pay, cancel, provider, now
):
    provider.practice.late_cancellation_fee_percent = 25
    provider.practice.save()
    paid = pay(start=TUESDAY)
    now.move_to(FREE_UNTIL + timedelta(seconds=1))

    cancel(paid.booking)

    payment = paid.payment
    assert list(payment.refunds.values_list("amount", "status")) == [
        (6000, "succeeded")
    ]
    assert (payment.status, payment.refunded_amount) == ("succeeded", 6000)
    assert paid.refunded_at_gateway() == [6000]


def test_late_cancellation_with_a_fee_of_100_percent_refunds_nothing(
    pay, cancel, provider, now
):
    paid = pay(start=TUESDAY)
    requests_before = len(paid.stripe_server.requests) if paid.stripe_server else 0
    now.move_to(FREE_UNTIL + timedelta(seconds=1))

    cancel(paid.booking)

    payment = paid.payment
    assert paid.booking.status == "cancelled"
    assert Refund.objects.count() == 0
    assert (payment.status, payment.refunded_amount) == ("succeeded", 0)
    assert paid.refunded_at_gateway() == []
    if paid.stripe_server:
        assert len(paid.stripe_server.requests) == requests_before
    assert audit_actions(payment) == ["payment.started", "payment.succeeded"]


def test_appointment_types_policy_decides_the_refund(
    pay, cancel, consultation, provider
):
    # The practice would refund everything now, 26 hours before; the
    # consultation's own rule makes it late and keeps half.
    provider.practice.late_cancellation_fee_percent = 0
    provider.practice.save()
    consultation.free_cancellation_hours = 48
    consultation.late_cancellation_fee_percent = 50
    consultation.save()
    paid = pay(start=TUESDAY)

    cancel(paid.booking)

    assert list(paid.payment.refunds.values_list("amount", flat=True)) == [4000]
    assert paid.refunded_at_gateway() == [4000]


def test_appointment_types_zero_fee_overrides_a_practice_keeping_everything(
    pay, cancel, consultation, now
):
    consultation.late_cancellation_fee_percent = 0
    consultation.save()
    paid = pay(start=TUESDAY)
    now.move_to(START - timedelta(minutes=5))

    cancel(paid.booking)

    assert list(paid.payment.refunds.values_list("amount", flat=True)) == [8000]
    assert paid.refunded_at_gateway() == [8000]


def test_deposit_is_what_is_paid_online_and_what_a_free_cancellation_returns(
    pay, cancel, consultation, provider
):
    Service.objects.filter(provider=provider, appointment_type=consultation).update(
        deposit_amount=2000
    )
    paid = pay(start=TUESDAY)
    payment = paid.payment
    assert (payment.amount, paid.booking.price_amount) == (2000, 8000)
    if paid.stripe_server:
        [session] = paid.stripe_server.objects("checkout.session")
        assert session["amount_total"] == 2000

    cancel(paid.booking)

    payment.refresh_from_db()
    assert list(payment.refunds.values_list("amount", flat=True)) == [2000]
    assert (payment.status, payment.refunded_amount) == ("refunded", 2000)
    assert paid.refunded_at_gateway() == [2000]


def test_staff_cancellation_is_audited_with_the_staff_member(
    pay, cancel, django_user_model
):
    paid = pay(start=TUESDAY)
    staff = django_user_model.objects.create_user(
        "front-desk", password="x" * 12, is_staff=True
    )

    cancel(paid.booking, Actor(ActorKind.STAFF, staff))

    entry = AuditEntry.objects.get(action="booking.cancelled")
    refund = AuditEntry.objects.get(action="refund.requested")
    assert (entry.actor_kind, entry.actor_user) == ("staff", staff)
    assert (refund.actor_kind, refund.actor_user, refund.changes) == (
        "staff",
        staff,
        {"amount": 8000},
    )


def test_cancelling_a_cancelled_booking_is_refused_and_refunds_nothing_more(
    pay, cancel
):
    paid = pay(start=TUESDAY)
    cancel(paid.booking)
    audit_before = AuditEntry.objects.count()

    with pytest.raises(WrongState) as refused:
        cancel(paid.booking)

    assert str(refused.value) == "A cancelled booking cannot be cancelled."
    assert list(Refund.objects.values_list("amount", flat=True)) == [8000]
    assert paid.refunded_at_gateway() == [8000]
    assert AuditEntry.objects.count() == audit_before


def test_cancelling_an_unpaid_booking_closes_its_payment_and_refunds_nothing(
    book, cancel, provider, now, settings
):
    settings.STRIPE_SECRET_KEY = ""
    answer = book(provider, start=TUESDAY)

    cancel(booking_of(answer))

    booking = booking_of(answer)
    assert booking.status == "cancelled"
    assert booking.payments.get().status == "cancelled"
    assert Refund.objects.count() == 0
    assert booking.outbox_messages.count() == 0


# Never more than was paid.


def test_refunds_requested_one_after_another_never_exceed_what_was_paid(
    pay, django_capture_on_commit_callbacks, jobs
):
    paid = pay(start=TUESDAY)
    payment = paid.payment

    with django_capture_on_commit_callbacks(execute=True):
        first = payments.request_refund(payment, 5000, "cancellation", SYSTEM)
        second = payments.request_refund(payment, 5000, "cancellation", SYSTEM)
        third = payments.request_refund(payment, 1, "cancellation", SYSTEM)
    jobs.run()

    assert (first.amount, second.amount, third) == (5000, 3000, None)
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_amount) == ("refunded", 8000)
    assert paid.refunded_at_gateway() == [5000, 3000]


def test_refund_after_a_dashboard_refund_gives_back_only_the_rest(
    paid_through_stripe, stripe_server, deliver, cancel, provider
):
    answer, session_id = paid_through_stripe(provider, start=TUESDAY)
    stripe_server.refund_in_dashboard(charge_of(stripe_server, session_id), 3000)
    deliver("charge.refunded", charge_of(stripe_server, session_id))

    cancel(booking_of(answer))

    payment = booking_of(answer).payments.get()
    assert list(payment.refunds.order_by("id").values_list("reason", "amount")) == [
        ("gateway", 3000),
        ("cancellation", 5000),
    ]
    assert (payment.status, payment.refunded_amount) == ("refunded", 8000)
    assert [refund["amount"] for refund in stripe_server.objects("refund")] == [
        3000,
        5000,
    ]


# A gateway that fails.


@pytest.fixture
def no_retry_pause(monkeypatch):
    """Let the SDK retry a refused connection without sleeping first."""
    monkeypatch.setattr(
        stripe._http_client.HTTPClient, "_sleep_time_seconds", lambda self, retries: 0
    )


def lose_first_answer(monkeypatch):
    """Make the first refund reach Stripe but its answer never come back."""
    create_refund = stripe_gateway.create_refund
    calls = []

    def flaky(*args, **kwargs):
        refund_id = create_refund(*args, **kwargs)
        calls.append(refund_id)
        if len(calls) == 1:
            raise stripe.APIConnectionError("Read timed out.")
        return refund_id

    monkeypatch.setattr(stripe_gateway, "create_refund", flaky)


def refund_requests(stripe_server) -> list:
    return [
        request
        for request in stripe_server.requests
        if (request.method, request.path) == ("POST", "/v1/refunds")
    ]


def test_refund_job_retries_while_stripe_is_down_and_refunds_once(
    paid_through_stripe,
    stripe_server,
    stripe_settings,
    cancel,
    provider,
    now,
    jobs,
    caplog,
    no_retry_pause,
):
    answer, _ = paid_through_stripe(provider, start=TUESDAY)
    jobs.run()
    stripe_server.stop()

    cancel(booking_of(answer))

    [refund] = Refund.objects.all()
    assert refund.status == "pending"
    [failure] = [
        record
        for record in caplog.records
        if record.getMessage().startswith("Unhandled exception in task")
    ]
    assert failure.exc_info[0] is stripe.APIConnectionError
    assert [task.name for task in jobs.huey.scheduled()] == [
        "submit_refund",  # again in five minutes
        "deliver_message",  # the reminder, due on Monday 10:00
    ]
    assert refund_requests(stripe_server) == []

    stripe_server.start()
    stripe_settings.STRIPE_API_BASE = stripe_server.url
    assert jobs.run() == 0
    now.shift(RETRY)
    assert jobs.run() == 1

    refund.refresh_from_db()
    payment = booking_of(answer).payments.get()
    [stripe_refund] = stripe_server.objects("refund")
    assert (refund.status, refund.gateway_reference) == (
        "succeeded",
        stripe_refund["id"],
    )
    assert (payment.status, payment.refunded_amount) == ("refunded", 8000)
    [request] = refund_requests(stripe_server)
    assert request.headers["Idempotency-Key"] == refund.idempotency_key
    assert [task.name for task in jobs.huey.scheduled()] == ["deliver_message"]


def test_refund_retried_after_a_lost_answer_is_made_once_at_stripe(
    paid_through_stripe, stripe_server, cancel, provider, now, jobs, monkeypatch
):
    answer, _ = paid_through_stripe(provider, start=TUESDAY)
    lose_first_answer(monkeypatch)

    cancel(booking_of(answer))
    [refund] = Refund.objects.all()
    assert refund.status == "pending"
    now.shift(RETRY)
    jobs.run()

    refund.refresh_from_db()
    payment = booking_of(answer).payments.get()
    [stripe_refund] = stripe_server.objects("refund")
    first, retry = refund_requests(stripe_server)
    assert (
        first.headers["Idempotency-Key"]
        == retry.headers["Idempotency-Key"]
        == (refund.idempotency_key)
    )
    assert (refund.status, refund.gateway_reference) == (
        "succeeded",
        stripe_refund["id"],
    )
    assert stripe_refund["amount"] == 8000
    assert (payment.status, payment.refunded_amount) == ("refunded", 8000)


def test_stripe_reporting_a_refund_before_carebook_recorded_it_counts_it_once(
    paid_through_stripe,
    stripe_server,
    deliver,
    cancel,
    provider,
    now,
    jobs,
    monkeypatch,
):
    # The refund reached Stripe but its answer was lost; Stripe's event
    # about it comes before the job's retry records it.
    answer, session_id = paid_through_stripe(provider, start=TUESDAY)
    lose_first_answer(monkeypatch)
    cancel(booking_of(answer))

    deliver("charge.refunded", charge_of(stripe_server, session_id))
    now.shift(RETRY)
    jobs.run()

    payment = booking_of(answer).payments.get()
    assert list(payment.refunds.values_list("reason", "amount", "status")) == [
        ("cancellation", 8000, "succeeded")
    ]
    assert (payment.status, payment.refunded_amount) == ("refunded", 8000)
    assert [refund["amount"] for refund in stripe_server.objects("refund")] == [8000]


def test_refund_the_gateway_keeps_refusing_ends_failed_for_staff(
    paid_through_stripe, stripe_server, cancel, provider, jobs, monkeypatch
):
    answer, _ = paid_through_stripe(provider, start=TUESDAY)
    jobs.run()
    stripe_server.stop()
    monkeypatch.setattr(payment_tasks.submit_refund.task_class, "default_retries", 0)

    cancel(booking_of(answer))

    [refund] = Refund.objects.all()
    assert refund.status == "failed"
    assert refund.last_error.startswith("APIConnectionError: ")
    assert booking_of(answer).payments.get().refunded_amount == 0
    assert AuditEntry.objects.filter(action="refund.failed").count() == 1
