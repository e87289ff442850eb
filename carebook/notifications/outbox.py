"""Queue emails in the outbox and deliver them, retrying until they go.

1. `queue_email` writes the row inside the caller's transaction and hands
   its id to the job queue once that transaction commits.
2. `deliver` claims the row atomically, sends it over SMTP, and records the
   outcome: sent; failed for good on a 5xx answer; or back to pending with
   the next attempt set by exponential backoff with jitter.
3. `requeue_due_messages` runs every minute and hands the queue every row
   that is due, including rows whose worker died mid-send (their lease ran
   out), so nothing the queue lost stays lost.
"""

import logging
import random
import smtplib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from importlib import import_module

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from carebook.audit.services import Actor, record_change
from carebook.notifications.models import OutboxMessage

logger = logging.getLogger(__name__)

FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)
REQUEUE_BATCH = 500


@dataclass(frozen=True)
class Email:
    """A rendered email, ready to be written to the outbox."""

    template: str
    audience: str
    recipient: str
    subject: str
    body_text: str
    body_html: str
    calendar: str = ""
    calendar_method: str = ""


def queue_email(
    email: Email,
    booking=None,
    send_at: datetime | None = None,
    appointment_start: datetime | None = None,
    dedupe_key: str | None = None,
) -> OutboxMessage:
    """Write an email to the outbox, to be sent after the caller commits."""
    message = OutboxMessage.objects.create(
        template=email.template,
        audience=email.audience,
        recipient=email.recipient,
        subject=email.subject,
        body_text=email.body_text,
        body_html=email.body_html,
        calendar=email.calendar,
        calendar_method=email.calendar_method,
        booking=booking,
        appointment_start=appointment_start,
        dedupe_key=dedupe_key,
        next_attempt_at=send_at or timezone.now(),
    )
    # A queue that is down must not undo the booking: the sweep picks the
    # row up once the queue is back.
    transaction.on_commit(
        partial(hand_to_queue, message.pk, message.next_attempt_at), robust=True
    )
    return message


def hand_to_queue(message_id: int, when: datetime) -> None:
    """Ask a worker to deliver the message now, or at `when`."""
    # Imported here: the tasks module imports this one.
    from carebook.notifications.tasks import deliver_message

    if when <= timezone.now():
        deliver_message(message_id)
    else:
        deliver_message.schedule(args=(message_id,), eta=when)


def cancel_pending(booking, template: str) -> int:
    """Cancel the booking's unsent messages of one template; return how many."""
    return OutboxMessage.objects.filter(
        booking=booking, template=template, status=OutboxMessage.Status.PENDING
    ).update(status=OutboxMessage.Status.CANCELLED)


def _is_due(now: datetime) -> Q:
    """Match rows a worker may claim: due, or abandoned by a dead worker."""
    return Q(status=OutboxMessage.Status.PENDING, next_attempt_at__lte=now) | Q(
        status=OutboxMessage.Status.SENDING, claimed_until__lt=now
    )


def deliver(message_id: int, now: datetime | None = None) -> str:
    """Send one outbox message if it is due; return what happened.

    Safe to run twice at once and to run again after a crash: only the
    worker whose claim is on the row may record its outcome.
    """
    now = now or timezone.now()
    claim = uuid.uuid4().hex
    claimed = (
        OutboxMessage.objects.filter(pk=message_id)
        .filter(_is_due(now))
        .update(
            status=OutboxMessage.Status.SENDING,
            claim=claim,
            claimed_until=now
            + timedelta(seconds=settings.CAREBOOK_OUTBOX_LEASE_SECONDS),
            attempts=F("attempts") + 1,
        )
    )
    if not claimed:
        return "not due"

    message = OutboxMessage.objects.select_related("booking").get(pk=message_id)
    if not _is_still_wanted(message):
        _finish(message, claim, status=OutboxMessage.Status.CANCELLED)
        logger.info("Outbox message %s no longer wanted", message.pk)
        return "cancelled"

    channel = channel_for(message)
    try:
        channel.send(message)
    except channel.ERRORS as error:
        return _record_failure(message, claim, error, channel.is_permanent(error))
    except Exception as error:
        # Not an error the channel expects: count it as passing, so the row
        # is retried and, if it keeps failing, ends failed for staff to see
        # instead of being re-claimed forever.
        logger.exception("Outbox message %s hit an unexpected error", message.pk)
        return _record_failure(message, claim, error, is_for_good=False)

    _finish(message, claim, status=OutboxMessage.Status.SENT, sent_at=timezone.now())
    logger.info("Outbox message %s sent (attempt %s)", message.pk, message.attempts)
    return "sent"


# How each channel sends, which errors it expects, and which are for good.
CHANNELS = {
    OutboxMessage.Channel.EMAIL: "carebook.notifications.outbox",
    OutboxMessage.Channel.CALDAV: "carebook.calendars.push",
}
ERRORS = (smtplib.SMTPException, OSError)


def channel_for(message: OutboxMessage):
    """Return the module that sends this message: `send`, `ERRORS`, and
    `is_permanent`."""
    return import_module(CHANNELS[message.channel])


def send(message: OutboxMessage) -> None:
    """Send an email message (the email channel's `send`)."""
    send_email(message)


def _is_still_wanted(message: OutboxMessage) -> bool:
    """Return False for a reminder whose booking was cancelled or moved."""
    if message.appointment_start is None:
        return True
    booking = message.booking
    return (
        booking.status == booking.Status.CONFIRMED
        and booking.start == message.appointment_start
    )


def send_email(message: OutboxMessage) -> None:
    """Hand one message to the mail server; raise on any refusal."""
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.body_text,
        to=[message.recipient],
        connection=get_connection(timeout=settings.EMAIL_TIMEOUT),
    )
    email.attach_alternative(message.body_html, "text/html")
    if message.calendar:
        email.attach(
            "invite.ics",
            message.calendar,
            f"text/calendar; method={message.calendar_method}; charset=utf-8",
        )
    email.send(fail_silently=False)


def is_permanent(error: Exception) -> bool:
    """Return whether the mail server refused for good (a 5xx answer)."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    if isinstance(error, smtplib.SMTPResponseException):
        return 500 <= error.smtp_code < 600
    # Refused connections, timeouts, dropped connections, 4xx answers.
    return False


def retry_delay(attempts: int) -> timedelta:
    """Return the wait before the next try: doubling, capped, jittered.

    The jitter keeps many messages that failed together (a mail server that
    was down) from all coming back at the same moment.
    """
    ceiling = min(LONGEST_RETRY, FIRST_RETRY * 2 ** (attempts - 1))
    return ceiling * random.uniform(0.5, 1.0)


def _record_failure(
    message: OutboxMessage, claim: str, error: Exception, is_for_good: bool
) -> str:
    reason = f"{type(error).__name__}: {error}"[:1000]
    if is_for_good:
        _finish(message, claim, status=OutboxMessage.Status.FAILED, last_error=reason)
        logger.warning("Outbox message %s refused for good: %s", message.pk, reason)
        return "failed"
    if message.attempts >= settings.CAREBOOK_OUTBOX_MAX_ATTEMPTS:
        _finish(message, claim, status=OutboxMessage.Status.FAILED, last_error=reason)
        logger.warning(
            "Outbox message %s given up after %s attempts: %s",
            message.pk,
            message.attempts,
            reason,
        )
        return "failed"

    next_attempt_at = timezone.now() + retry_delay(message.attempts)
    _finish(
        message,
        claim,
        status=OutboxMessage.Status.PENDING,
        last_error=reason,
        next_attempt_at=next_attempt_at,
    )
    hand_to_queue(message.pk, next_attempt_at)
    logger.info(
        "Outbox message %s failed (attempt %s), retrying at %s: %s",
        message.pk,
        message.attempts,
        next_attempt_at.isoformat(),
        reason,
    )
    return "retrying"


def _finish(message: OutboxMessage, claim: str, **changes) -> None:
    """Record the outcome of our claim; a claim taken over since is left be."""
    OutboxMessage.objects.filter(pk=message.pk, claim=claim).update(
        claimed_until=None, **changes
    )


def requeue_due_messages(now: datetime | None = None) -> int:
    """Hand the queue every message that is due; return how many."""
    now = now or timezone.now()
    due = list(
        OutboxMessage.objects.filter(_is_due(now))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:REQUEUE_BATCH]
    )
    for message_id in due:
        hand_to_queue(message_id, now)
    return len(due)


def retry_failed(message: OutboxMessage, actor: Actor) -> bool:
    """Send a failed message again from a fresh start; False if not failed."""
    with transaction.atomic():
        changed = OutboxMessage.objects.filter(
            pk=message.pk, status=OutboxMessage.Status.FAILED
        ).update(
            status=OutboxMessage.Status.PENDING,
            attempts=0,
            next_attempt_at=timezone.now(),
        )
        if changed:
            record_change("outbox.retried", message, actor)
            transaction.on_commit(
                partial(hand_to_queue, message.pk, timezone.now()), robust=True
            )
    return bool(changed)
