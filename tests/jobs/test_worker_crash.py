"""A worker killed in the middle of a send loses no email and sends none twice.

The workers are real `manage.py run_huey` processes on the test database,
with the queue in SQLite or Redis; the SMTP server runs in this process and
takes 3 seconds to accept each message. The workers' lease is 2 seconds, so
the message of a killed worker is free for another soon after.
"""

import asyncio
import signal
from collections import Counter
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from carebook.audit.services import PATIENT
from carebook.bookings import services
from carebook.bookings.models import Booking
from carebook.notifications.models import OutboxMessage
from carebook.notifications.tasks import requeue_due_messages_every_minute
from carebook.practice.models import Service
from tests.factories import make_booking
from tests.jobs.conftest import wait_until
from tests.smtp import free_port

BOOKINGS = 4
ACCEPT_SECONDS = 3
LEASE_SECONDS = 2
RETURN_URL = "http://testserver/booking/t/"
pytestmark = pytest.mark.django_db(transaction=True)


class SlowMailbox:
    """An aiosmtpd handler that accepts each message ACCEPT_SECONDS late.

    The wait does not hold up other sessions. A client that hangs up while
    it waits never gets the "250" that hands the message over, so the
    message is not counted as received, as a real server would not deliver
    it.
    """

    def __init__(self):
        self.messages = []
        self.receiving = 0

    async def handle_DATA(self, server, session, envelope):
        self.receiving += 1
        try:
            # Cancelled by aiosmtpd when the client's connection drops.
            await asyncio.sleep(ACCEPT_SECONDS)
        finally:
            self.receiving -= 1
        self.messages.append(
            message_from_bytes(envelope.content, policy=policy.default)
        )
        return "250 Message accepted"


@pytest.fixture
def mailbox():
    """Start the slow SMTP server; return its handler and its address."""
    handler = SlowMailbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, f"smtp://127.0.0.1:{port}"
    controller.stop()


def confirm_free_bookings(provider, appointment_type) -> list[str]:
    """Confirm BOOKINGS free bookings, each committed; return the patients.

    The holds are inserted as given and then confirmed through the booking
    service, which queues one email to each patient after its commit.
    Appointments a few hours away get no reminder.
    """
    Service.objects.filter(provider=provider, appointment_type=appointment_type).update(
        price_amount=0
    )
    first = timezone.now().replace(second=0, microsecond=0) + timedelta(hours=3)
    patients = []
    for number in range(BOOKINGS):
        email = f"patient{number}@example.ie"
        held = make_booking(
            provider,
            appointment_type,
            first + timedelta(hours=number),
            status=Booking.Status.HELD,
            price_amount=0,
            hold_expires_at=timezone.now() + timedelta(minutes=10),
        )
        services.add_patient_details(
            held,
            services.PatientDetails(f"Patient {number}", email),
            RETURN_URL,
            PATIENT,
        )
        patients.append(email)
    return patients


def statuses() -> Counter:
    return Counter(OutboxMessage.objects.values_list("status", flat=True))


def test_email_of_a_killed_worker_is_sent_once_by_the_next_worker(
    provider, consultation, queue, start_worker, mailbox, monkeypatch
):
    huey, _ = queue
    handler, email_url = mailbox
    worker_env = {
        "EMAIL_URL": email_url,
        "CAREBOOK_OUTBOX_LEASE_SECONDS": str(LEASE_SECONDS),
    }
    # Jobs queued by this process go where the workers read.
    monkeypatch.setattr(HUEY, "storage", huey.storage)
    patients = confirm_free_bookings(provider, consultation)
    assert statuses() == {"pending": BOOKINGS}

    # Kill the first worker while the server holds a message mid-DATA, after
    # it has sent two others.
    first = start_worker(**worker_env)
    wait_until(lambda: handler.receiving == 1 and statuses()["sent"] == 2, timeout=60)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    assert statuses() == {"sent": 2, "sending": 1, "pending": BOOKINGS - 3}
    killed = OutboxMessage.objects.get(status=OutboxMessage.Status.SENDING)
    sent_before_kill = sorted(
        OutboxMessage.objects.filter(status=OutboxMessage.Status.SENT).values_list(
            "recipient", flat=True
        )
    )
    # The server drops the message whose sender hung up mid-DATA.
    wait_until(lambda: handler.receiving == 0, timeout=10)
    assert sorted(m["To"] for m in handler.messages) == sent_before_kill

    # A fresh worker sends what is still queued; the sweep hands it the
    # message the dead worker held, once that worker's lease has run out.
    start_worker(**worker_env)
    wait_until(lambda: timezone.now() > killed.claimed_until, timeout=10)
    requeue_due_messages_every_minute()
    wait_until(lambda: statuses() == {"sent": BOOKINGS}, timeout=60)

    received = Counter(message["To"] for message in handler.messages)
    assert received == Counter(patients)
    assert all(received[address] == 1 for address in sent_before_kill)
    assert len(handler.messages) == OutboxMessage.objects.count() == BOOKINGS
    killed.refresh_from_db()
    assert (killed.status, killed.attempts) == ("sent", 2)
