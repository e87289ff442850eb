"""Emails leave through the outbox: after the commit, by a worker, once.

A real SMTP server (aiosmtpd, in a thread of this process) receives them;
the job queue lives in memory and runs when a test says so. Time is frozen
at Monday 7 December 2026, 08:00 UTC, and travelled explicitly.
"""

import smtplib
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from carebook.audit.models import ActorKind, AuditEntry
from carebook.audit.services import Actor
from carebook.notifications import outbox
from carebook.notifications.models import OutboxMessage
from carebook.notifications.outbox import (
    deliver,
    requeue_due_messages,
    retry_delay,
    retry_failed,
)
from carebook.practice.models import Service
from tests.smtp import Recorder

PATIENT_EMAIL = "zoe@example.ie"
PROVIDER_EMAIL = "ada@riverside.example"
Status = OutboxMessage.Status


@pytest.fixture
def free_provider(provider, consultation):
    """Dr Lovelace, with an email address, offering free consultations."""
    Service.objects.filter(provider=provider, appointment_type=consultation).update(
        price_amount=0
    )
    provider.email = PROVIDER_EMAIL
    provider.save(update_fields=["email"])
    return provider


@pytest.fixture
def book(client, free_provider, now, django_capture_on_commit_callbacks):
    """Return a function that books a free consultation through the API.

    The booking is confirmed at once, which queues the patient's
    confirmation and the provider's notice. pytest-django's `db` tests never
    run on-commit callbacks by themselves; this runs them, as a commit would.
    """

    def book(start="2026-12-07T11:00:00Z", email=PATIENT_EMAIL) -> dict:
        body = {
            "provider": free_provider.pk,
            "appointment_type": "consultation",
            "start": start,
            "patient": {"name": "Zoë Ní Bhriain", "email": email},
        }
        with django_capture_on_commit_callbacks(execute=True):
            answer = client.post(
                "/api/v1/bookings", body, content_type="application/json"
            )
        assert answer.status_code == 201
        return answer.json()

    return book


def make_message(**fields) -> OutboxMessage:
    """Insert an outbox row as given, due now unless `fields` say otherwise."""
    values = {
        "template": "booking_confirmed",
        "audience": OutboxMessage.Audience.PATIENT,
        "recipient": PATIENT_EMAIL,
        "subject": "Your appointment is confirmed",
        "body_text": "See you on Monday.",
        "body_html": "<p>See you on Monday.</p>",
        **fields,
    }
    return OutboxMessage.objects.create(**values)


def outbox_rows() -> list[tuple]:
    return list(
        OutboxMessage.objects.order_by("recipient").values_list(
            "recipient", "status", "attempts"
        )
    )


def received(smtp_server) -> list[str]:
    """Return the recipients of every message the server accepted, sorted."""
    return sorted(message["To"] for message in smtp_server.messages)


def latest_retry(rows) -> datetime:
    return max(row.next_attempt_at for row in rows)


def retry_bounds(attempts: int) -> tuple[timedelta, timedelta]:
    """Return the shortest and longest wait after `attempts` failed tries."""
    ceiling = min(timedelta(seconds=30) * 2 ** (attempts - 1), timedelta(hours=1))
    return ceiling / 2, ceiling


# A booking and its emails.


def test_booking_answers_and_its_emails_arrive_when_the_worker_runs(
    book, smtp_server, jobs
):
    answer = book()

    assert answer["status"] == "confirmed"
    assert smtp_server.messages == []
    assert jobs.waiting() == 2

    assert jobs.run() == 2
    # The subjects are the templates' business; the rows hold what was owed.
    assert sorted((m["To"], m["Subject"]) for m in smtp_server.messages) == sorted(
        OutboxMessage.objects.values_list("recipient", "subject")
    )
    assert sorted(OutboxMessage.objects.values_list("template", "recipient")) == [
        ("booking_confirmed", PATIENT_EMAIL),
        ("provider_new_booking", PROVIDER_EMAIL),
    ]
    assert (
        OutboxMessage.objects.filter(booking__reference=answer["reference"]).count()
        == 2
    )
    assert outbox_rows() == [
        (PROVIDER_EMAIL, "sent", 1),
        (PATIENT_EMAIL, "sent", 1),
    ]
    assert jobs.waiting() == 0


def test_slow_mail_server_gets_the_email_and_the_booking_did_not_wait_for_it(
    book, smtp_server, jobs
):
    smtp_server.answer_slowly(2)

    book()

    # Had the request talked to the server, the messages would be here.
    assert smtp_server.messages == []
    assert jobs.run() == 2
    assert received(smtp_server) == [PROVIDER_EMAIL, PATIENT_EMAIL]
    assert outbox_rows() == [
        (PROVIDER_EMAIL, "sent", 1),
        (PATIENT_EMAIL, "sent", 1),
    ]


# Temporary failures: retried with backoff until the server takes them.


def test_retry_delay_doubles_from_30_seconds_and_stops_at_one_hour(monkeypatch):
    ceilings = {1: 30, 2: 60, 3: 120, 4: 240, 7: 1920, 8: 3600, 15: 3600}

    monkeypatch.setattr(outbox.random, "uniform", lambda low, high: high)
    longest = {n: retry_delay(n).total_seconds() for n in ceilings}
    monkeypatch.setattr(outbox.random, "uniform", lambda low, high: low)
    shortest = {n: retry_delay(n).total_seconds() for n in ceilings}

    assert longest == ceilings
    assert shortest == {n: seconds / 2 for n, seconds in ceilings.items()}


@dataclass
class Attempt:
    at: object
    status: str
    next_attempt_at: object


def test_emails_queued_while_the_mail_server_is_down_arrive_once_it_is_back(
    book, smtp_server, jobs, now
):
    smtp_server.stop()
    back_at = timezone.now() + timedelta(minutes=2)
    book()
    tries: dict[int, list[Attempt]] = {
        pk: [] for pk in OutboxMessage.objects.values_list("pk", flat=True)
    }

    # Run the worker whenever a retry falls due, as the real one would; the
    # server comes back two minutes in. Two messages need at most ten tries.
    for _ in range(10):
        if timezone.now() >= back_at and smtp_server.controller is None:
            smtp_server.start()
        jobs.run()
        for row in OutboxMessage.objects.all():
            if row.attempts > len(tries[row.pk]):
                tries[row.pk].append(
                    Attempt(timezone.now(), row.status, row.next_attempt_at)
                )
        waiting = OutboxMessage.objects.filter(status=Status.PENDING)
        if not waiting.exists():
            break
        now.move_to(min(row.next_attempt_at for row in waiting))
    else:
        pytest.fail("the messages were still pending after ten tries")

    for pk, attempts in tries.items():
        *failed, last = attempts
        # Tries at 0 s, 15–30 s and 45–90 s always fail; the fourth, at
        # 105–210 s, fails only when it comes before the server is back.
        assert len(failed) in (3, 4)
        assert [a.status for a in failed] == ["pending"] * len(failed)
        assert all(a.at < back_at for a in failed)
        for number, attempt in enumerate(failed, start=1):
            shortest, longest = retry_bounds(number)
            assert shortest <= attempt.next_attempt_at - attempt.at <= longest
        # Each retry ran exactly when the previous try said it would.
        assert [a.at for a in attempts[1:]] == [a.next_attempt_at for a in failed]
        assert (last.status, last.at >= back_at) == ("sent", True)
        assert OutboxMessage.objects.get(pk=pk).attempts == len(attempts)

    assert received(smtp_server) == [PROVIDER_EMAIL, PATIENT_EMAIL]
    assert len({m["Message-ID"] for m in smtp_server.messages}) == 2
    assert OutboxMessage.objects.get(recipient=PATIENT_EMAIL).last_error == (
        "ConnectionRefusedError: [Errno 111] Connection refused"
    )
    assert jobs.waiting() == 0


def test_temporary_refusal_451_is_retried_and_then_sent(book, smtp_server, jobs, now):
    smtp_server.reply_with("451 4.3.0 Mail system busy, try later")
    book()

    jobs.run()
    rows = list(OutboxMessage.objects.all())
    assert [(row.status, row.attempts) for row in rows] == [("pending", 1)] * 2
    assert [row.last_error for row in rows] == [
        "SMTPDataError: (451, b'4.3.0 Mail system busy, try later')"
    ] * 2
    for row in rows:
        assert (
            timedelta(seconds=15)
            <= row.next_attempt_at - timezone.now()
            <= timedelta(seconds=30)
        )
    assert jobs.waiting() == 2

    smtp_server.behave_normally()
    now.move_to(latest_retry(rows))

    assert jobs.run() == 2
    assert received(smtp_server) == [PROVIDER_EMAIL, PATIENT_EMAIL]
    assert outbox_rows() == [
        (PROVIDER_EMAIL, "sent", 2),
        (PATIENT_EMAIL, "sent", 2),
    ]


def test_message_is_given_up_after_the_most_attempts_allowed(
    book, smtp_server, jobs, now, settings
):
    settings.CAREBOOK_OUTBOX_MAX_ATTEMPTS = 3
    smtp_server.reply_with("451 4.3.0 Mail system busy, try later")
    book()

    seen = []
    for _ in range(3):
        jobs.run()
        seen.append(outbox_rows())
        pending = OutboxMessage.objects.filter(status=Status.PENDING)
        if pending:
            now.move_to(latest_retry(pending))

    assert seen == [
        [(PROVIDER_EMAIL, "pending", 1), (PATIENT_EMAIL, "pending", 1)],
        [(PROVIDER_EMAIL, "pending", 2), (PATIENT_EMAIL, "pending", 2)],
        [(PROVIDER_EMAIL, "failed", 3), (PATIENT_EMAIL, "failed", 3)],
    ]
    assert set(OutboxMessage.objects.values_list("last_error", flat=True)) == {
        "SMTPDataError: (451, b'4.3.0 Mail system busy, try later')"
    }
    assert smtp_server.messages == []
    assert jobs.waiting() == 0


# Permanent refusals: failed at once, never retried.


def test_permanent_refusal_550_fails_the_message_after_one_attempt(
    book, smtp_server, jobs, now
):
    smtp_server.reply_with("550 5.7.1 Message refused")
    book()
    queued_at = timezone.now()

    assert jobs.run() == 2
    assert list(
        OutboxMessage.objects.order_by("recipient").values_list(
            "recipient", "status", "attempts", "last_error", "next_attempt_at"
        )
    ) == [
        (
            address,
            "failed",
            1,
            "SMTPDataError: (550, b'5.7.1 Message refused')",
            queued_at,
        )
        for address in (PROVIDER_EMAIL, PATIENT_EMAIL)
    ]
    assert jobs.waiting() == 0

    # A day later nothing has been tried again, the sweep included.
    now.shift(timedelta(days=1))
    assert requeue_due_messages() == 0
    assert jobs.run() == 0
    assert smtp_server.messages == []


@dataclass
class RefusingOneMailbox(Recorder):
    """Refuse one address at RCPT with a 5xx, as for a mailbox that is gone."""

    refused: str = ""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == self.refused:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_refused_mailbox_fails_its_message_and_the_others_go(book, smtp_server, jobs):
    gone = "gone@example.ie"
    smtp_server.stop()
    smtp_server.recorder = RefusingOneMailbox(refused=gone)
    smtp_server.start()
    book("2026-12-07T11:00:00Z", email=gone)
    book("2026-12-07T14:00:00Z", email=PATIENT_EMAIL)

    assert jobs.run() == 4
    assert list(
        OutboxMessage.objects.order_by("pk").values_list(
            "recipient", "status", "attempts", "last_error"
        )
    ) == [
        (
            gone,
            "failed",
            1,
            "SMTPRecipientsRefused: "
            "{'gone@example.ie': (550, b'5.1.1 No such mailbox')}",
        ),
        (PROVIDER_EMAIL, "sent", 1, ""),
        (PATIENT_EMAIL, "sent", 1, ""),
        (PROVIDER_EMAIL, "sent", 1, ""),
    ]
    assert received(smtp_server) == [PROVIDER_EMAIL, PROVIDER_EMAIL, PATIENT_EMAIL]
    assert jobs.waiting() == 0


# Claims and leases: one sender at a time.

NOT_DUE = [
    "a retry still to come",
    "already sent",
    "failed",
    "cancelled",
    "claimed by a live worker",
]


def fields_for(state: str) -> dict:
    """Return the fields of a message in one of the NOT_DUE states."""
    in_a_minute = timezone.now() + timedelta(minutes=1)
    return {
        "a retry still to come": {"next_attempt_at": in_a_minute},
        "already sent": {"status": Status.SENT, "attempts": 1},
        "failed": {"status": Status.FAILED, "attempts": 1},
        "cancelled": {"status": Status.CANCELLED},
        "claimed by a live worker": {
            "status": Status.SENDING,
            "attempts": 1,
            "claim": "other-worker",
            "claimed_until": in_a_minute,
        },
    }[state]


@pytest.mark.parametrize("state", NOT_DUE)
def test_deliver_leaves_a_message_that_is_not_due_alone(state, smtp_server, now, db):
    message = make_message(**fields_for(state))
    before = OutboxMessage.objects.filter(pk=message.pk).values().get()

    assert deliver(message.pk) == "not due"
    assert OutboxMessage.objects.filter(pk=message.pk).values().get() == before
    assert smtp_server.messages == []


def test_message_of_a_worker_that_died_is_sent_once_its_lease_runs_out(
    smtp_server, now, settings, db
):
    settings.CAREBOOK_OUTBOX_LEASE_SECONDS = 120
    message = make_message(
        status=Status.SENDING,
        attempts=1,
        claim="dead-worker",
        claimed_until=timezone.now() + timedelta(seconds=120),
    )

    now.shift(timedelta(seconds=120))
    assert deliver(message.pk) == "not due"

    now.shift(timedelta(seconds=1))
    assert deliver(message.pk) == "sent"
    assert deliver(message.pk) == "not due"

    message.refresh_from_db()
    assert (message.status, message.attempts, message.claimed_until) == (
        "sent",
        2,
        None,
    )
    assert message.claim != "dead-worker"
    assert message.sent_at == timezone.now()
    assert received(smtp_server) == [PATIENT_EMAIL]


def test_worker_whose_lease_ran_out_mid_send_does_not_overwrite_the_outcome(
    smtp_server, now, settings, monkeypatch, db
):
    settings.CAREBOOK_OUTBOX_LEASE_SECONDS = 120
    message = make_message()
    taken_over = []

    def stuck_then_refused(row):
        # The first worker hangs past its lease; a second worker takes the
        # message over and sends it; then the first one's send fails.
        monkeypatch.setattr(outbox, "send_email", real_send)
        now.shift(timedelta(seconds=121))
        taken_over.append(deliver(row.pk))
        raise smtplib.SMTPDataError(451, b"4.3.0 Try later")

    real_send = outbox.send_email
    monkeypatch.setattr(outbox, "send_email", stuck_then_refused)

    deliver(message.pk)

    assert taken_over == ["sent"]
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == ("sent", 2, "")
    assert received(smtp_server) == [PATIENT_EMAIL]


@pytest.mark.django_db(transaction=True)
def test_workers_delivering_one_message_at_the_same_moment_send_it_once(
    smtp_server, now
):
    message = make_message()
    workers = 8
    barrier = threading.Barrier(workers)

    def deliver_with_the_others(_):
        try:
            barrier.wait()
            return deliver(message.pk)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = list(pool.map(deliver_with_the_others, range(workers)))

    assert Counter(outcomes) == {"sent": 1, "not due": workers - 1}
    assert received(smtp_server) == [PATIENT_EMAIL]
    assert outbox_rows() == [(PATIENT_EMAIL, "sent", 1)]


# The sweep and the staff's retry.


def test_sweep_requeues_due_and_abandoned_messages_only(smtp_server, jobs, now, db):
    in_a_minute = timezone.now() + timedelta(minutes=1)
    a_second_ago = timezone.now() - timedelta(seconds=1)
    due = make_message(recipient="due@example.ie")
    abandoned = make_message(
        recipient="abandoned@example.ie",
        status=Status.SENDING,
        attempts=1,
        claim="dead-worker",
        claimed_until=a_second_ago,
    )
    make_message(recipient="later@example.ie", next_attempt_at=in_a_minute)
    make_message(
        recipient="busy@example.ie",
        status=Status.SENDING,
        attempts=1,
        claim="live-worker",
        claimed_until=in_a_minute,
    )
    make_message(recipient="sent@example.ie", status=Status.SENT, attempts=1)
    make_message(recipient="failed@example.ie", status=Status.FAILED, attempts=1)
    make_message(recipient="cancelled@example.ie", status=Status.CANCELLED)

    assert requeue_due_messages() == 2
    assert sorted(task.args for task in jobs.huey.pending()) == sorted(
        [(due.pk,), (abandoned.pk,)]
    )

    assert jobs.run() == 2
    assert received(smtp_server) == ["abandoned@example.ie", "due@example.ie"]
    assert dict(OutboxMessage.objects.values_list("recipient", "status")) == {
        "due@example.ie": "sent",
        "abandoned@example.ie": "sent",
        "later@example.ie": "pending",
        "busy@example.ie": "sending",
        "sent@example.ie": "sent",
        "failed@example.ie": "failed",
        "cancelled@example.ie": "cancelled",
    }


@pytest.fixture
def staff(django_user_model):
    user = django_user_model.objects.create_user("rita", is_staff=True)
    return Actor(ActorKind.STAFF, user)


def test_staff_retry_of_a_failed_message_sends_it_and_is_audited(
    smtp_server, jobs, now, staff, django_capture_on_commit_callbacks
):
    message = make_message(
        status=Status.FAILED,
        attempts=15,
        last_error="SMTPDataError: (451, b'4.3.0 Try later')",
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert retry_failed(message, staff) is True

    assert jobs.run() == 1
    assert received(smtp_server) == [PATIENT_EMAIL]
    assert outbox_rows() == [(PATIENT_EMAIL, "sent", 1)]
    assert list(
        AuditEntry.objects.values_list(
            "action", "actor_kind", "actor_user", "object_type", "object_id"
        )
    ) == [
        (
            "outbox.retried",
            "staff",
            staff.user.pk,
            "notifications.outboxmessage",
            str(message.pk),
        )
    ]


def test_staff_retry_of_a_sent_message_changes_nothing(
    smtp_server, jobs, now, staff, django_capture_on_commit_callbacks
):
    message = make_message(status=Status.SENT, attempts=1, sent_at=timezone.now())
    before = OutboxMessage.objects.filter(pk=message.pk).values().get()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert retry_failed(message, staff) is False

    assert callbacks == []
    assert jobs.waiting() == 0
    assert OutboxMessage.objects.filter(pk=message.pk).values().get() == before
    assert AuditEntry.objects.count() == 0
    assert smtp_server.messages == []
