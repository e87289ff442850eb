"""The emails patients and providers get, read as a mail server receives them.

Bookings are made through the API and changed through the booking services;
the job queue hands the outbox to a real SMTP server (aiosmtpd), and each
test reads what arrived there. Time is frozen at Monday 7 December 2026,
08:00 UTC (08:00 in Dublin), and travelled explicitly.
"""

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from html.parser import HTMLParser

import pytest

from carebook.audit.services import PATIENT
from carebook.bookings import services
from carebook.bookings.models import Booking
from carebook.notifications.models import OutboxMessage
from carebook.notifications.outbox import deliver, requeue_due_messages
from carebook.payments.models import Payment
from carebook.practice.models import AppointmentType, Practice, Service

BASE_URL = "https://book.riverside.example"
PATIENT_EMAIL = "zoe@example.ie"
PATIENT_PHONE = "+353 1 555 0100"
PROVIDER_EMAIL = "ada@riverside.example"
WEDNESDAY_ELEVEN = datetime(2026, 12, 9, 11, 0, tzinfo=UTC)
THURSDAY_TWO = datetime(2026, 12, 10, 14, 0, tzinfo=UTC)
WEDNESDAY_IN_DUBLIN = (
    "Wednesday 9 December 2026, 11:00–11:30 (Irish Time, Europe/Dublin)"
)
THURSDAY_IN_DUBLIN = (
    "Thursday 10 December 2026, 14:00–14:30 (Irish Time, Europe/Dublin)"
)
LINK_INTRO = "To see, move or cancel your appointment, use your private link:"
KEEP_PRIVATE = (
    "Please keep this link to yourself: anyone who has it can change your booking."
)


@pytest.fixture
def clinic(provider, smtp_server, settings, now):
    """Dr Ada Lovelace, with an address, so provider emails go out too."""
    settings.CAREBOOK_BASE_URL = BASE_URL
    provider.email = PROVIDER_EMAIL
    provider.save(update_fields=["email"])
    return provider


@pytest.fixture
def free(clinic):
    """Make every service free, so a booking is confirmed at once."""
    Service.objects.update(price_amount=0)
    return clinic


@pytest.fixture
def delivered(django_capture_on_commit_callbacks, jobs):
    """Commit what the block does, then let the job queue send what is due.

    pytest-django's `db` tests never run on-commit callbacks by themselves;
    this runs them, as a commit would, before the queue runs.
    """

    @contextmanager
    def block():
        with django_capture_on_commit_callbacks(execute=True):
            yield
        jobs.run()

    return block


def book(client, provider, start=WEDNESDAY_ELEVEN, name="Zoë Ní Bhriain", **fields):
    """Book a consultation through the API; return its answer."""
    body = {
        "provider": provider.pk,
        "appointment_type": "consultation",
        "start": start.isoformat(),
        "patient": {"name": name, "email": PATIENT_EMAIL, "phone": PATIENT_PHONE},
        **fields,
    }
    answer = client.post("/api/v1/bookings", body, content_type="application/json")
    assert answer.status_code == 201, answer.content
    return answer.json()


def pay(answer: dict) -> Booking:
    """Settle the booking's payment, as the gateway's webhook would."""
    payment = Payment.objects.get(booking__reference=answer["reference"])
    return services.settle_payment(payment.pk, "demo_ref", PATIENT)


def booking_of(answer: dict) -> Booking:
    return Booking.objects.get(reference=answer["reference"])


def link_of(answer: dict) -> str:
    return f"{BASE_URL}/booking/{answer['token']}/"


def subject_of(message: EmailMessage) -> str:
    """Return the subject as a mail program shows it.

    Django folds a long encoded subject onto a continuation line, and
    Python's parser keeps that line's leading space; mail programs drop it.
    """
    return message["Subject"].lstrip()


def headers(smtp_server) -> list[tuple[str, str]]:
    """Return the recipient and subject of every message received, in order."""
    return [(message["To"], subject_of(message)) for message in smtp_server.messages]


def text_lines(message: EmailMessage) -> list[str]:
    return message.get_body(("plain",)).get_content().splitlines()


def html_of(message: EmailMessage) -> str:
    # Mail travels with CRLF line endings; read it as it was written.
    return message.get_body(("html",)).get_content().replace("\r\n", "\n")


class VisibleHtml(HTMLParser):
    """Read an HTML email as a person sees it: one line per block.

    A heading or paragraph is one line; a table row is "label: value"; a
    line break inside a block stays a newline.
    """

    BLOCKS = ("h1", "p", "tr")

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.lang = None
        self.title = ""
        self.lines = []
        self.links = []
        self._block = None
        self._in_title = False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "html":
            self.lang = attributes.get("lang")
        elif tag == "title":
            self._in_title = True
        elif tag == "a":
            self.links.append(attributes["href"])
        elif tag in self.BLOCKS:
            self._block = []
        elif tag == "td" and self._block is not None:
            self._block.append(": ")
        elif tag == "br" and self._block is not None:
            self._block.append("\n")

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        elif tag in self.BLOCKS and self._block is not None:
            self.lines.append("".join(self._block))
            self._block = None

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        elif self._block is not None:
            self._block.append(data)


def every_email(client, provider, delivered, now, **booking_fields) -> dict:
    """Book, pay, move, be reminded and cancel: all eight emails, in order.

    The messages arrive as: confirmation, provider's notice, receipt, new
    time, provider's notice of the move, reminder, cancellation, provider's
    cancellation notice.
    """
    with delivered():
        answer = book(client, provider, **booking_fields)
    with delivered():
        pay(answer)
    with delivered():
        services.reschedule_booking(booking_of(answer), THURSDAY_TWO, PATIENT)
    with delivered():
        now.move_to(THURSDAY_TWO - timedelta(hours=24))
    with delivered():
        services.cancel_booking(booking_of(answer), PATIENT)
    return answer


def every_part(message: EmailMessage) -> list[str]:
    """Return the subject and every text part: plain, HTML and invite."""
    parts = [subject_of(message)]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            parts.append(part.get_content())
    return parts


# Confirmation and the provider's notice.


def test_free_booking_emails_the_patient_and_the_provider_at_once(
    client, free, delivered, smtp_server
):
    with delivered():
        answer = book(client, free)

    reference = answer["reference"]
    assert headers(smtp_server) == [
        (
            PATIENT_EMAIL,
            f"Your appointment with Dr Ada Lovelace is confirmed ({reference})",
        ),
        (PROVIDER_EMAIL, f"New booking on Wednesday 9 December 2026 ({reference})"),
    ]


def test_confirmation_text_gives_the_time_length_reference_and_private_link(
    client, free, delivered, smtp_server
):
    with delivered():
        answer = book(client, free)

    confirmation = smtp_server.messages[0]
    assert text_lines(confirmation) == [
        "Dear Zoë Ní Bhriain,",
        "",
        "Your appointment with Dr Ada Lovelace at Riverside Clinic is confirmed.",
        "",
        f"When: {WEDNESDAY_IN_DUBLIN}",
        "Length: 30 minutes",
        f"Reference: {answer['reference']}",
        "",
        LINK_INTRO,
        link_of(answer),
        KEEP_PRIVATE,
        "",
        "The attached invitation adds the appointment to your calendar.",
        "",
        "We look forward to seeing you.",
        "",
        "Kind regards,",
        "Riverside Clinic",
    ]


def test_confirmation_html_says_the_same_in_the_readers_language(
    client, free, delivered, smtp_server
):
    with delivered():
        answer = book(client, free)

    page = VisibleHtml(html_of(smtp_server.messages[0]))
    assert (page.lang, page.title) == ("en", "Your appointment is confirmed")
    assert page.lines == [
        "Your appointment is confirmed",
        "Dear Zoë Ní Bhriain,",
        "Your appointment with Dr Ada Lovelace at Riverside Clinic is confirmed.",
        f"When: {WEDNESDAY_IN_DUBLIN}",
        "Length: 30 minutes",
        f"Reference: {answer['reference']}",
        LINK_INTRO,
        "Manage your appointment",
        KEEP_PRIVATE,
        "The attached invitation adds the appointment to your calendar.",
        "We look forward to seeing you.",
        "Kind regards,\nRiverside Clinic",
    ]
    assert page.links == [link_of(answer)]


def test_html_is_laid_out_for_a_phone(client, free, delivered, smtp_server):
    with delivered():
        book(client, free)

    html = html_of(smtp_server.messages[0])
    assert html.startswith('<!doctype html>\n<html lang="en">\n<head>\n')
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in (
        html
    )
    assert '<div style="max-width: 560px; margin: 0 auto;' in html


def test_paid_confirmation_shows_the_price(client, clinic, delivered, smtp_server):
    with delivered():
        answer = book(client, clinic)

    assert smtp_server.messages == []

    with delivered():
        pay(answer)

    confirmation = smtp_server.messages[0]
    assert text_lines(confirmation)[4:8] == [
        f"When: {WEDNESDAY_IN_DUBLIN}",
        "Length: 30 minutes",
        "Price: €80.00",
        f"Reference: {answer['reference']}",
    ]
    assert VisibleHtml(html_of(confirmation)).lines[3:7] == [
        f"When: {WEDNESDAY_IN_DUBLIN}",
        "Length: 30 minutes",
        "Price: €80.00",
        f"Reference: {answer['reference']}",
    ]


def test_provider_notice_names_the_patient_time_and_reference_only(
    client, free, delivered, smtp_server
):
    with delivered():
        answer = book(client, free)

    notice = smtp_server.messages[1]
    reference = answer["reference"]
    assert text_lines(notice) == [
        "Dear Dr Ada Lovelace,",
        "",
        "A new appointment has been booked with you at Riverside Clinic.",
        "",
        "Patient: Zoë Ní Bhriain",
        f"When: {WEDNESDAY_IN_DUBLIN}",
        "Length: 30 minutes",
        f"Reference: {reference}",
        "",
        "Riverside Clinic",
    ]
    page = VisibleHtml(html_of(notice))
    assert (page.lang, page.title) == ("en", "New booking")
    assert page.lines == [
        "New booking",
        "Dear Dr Ada Lovelace,",
        "A new appointment has been booked with you at Riverside Clinic.",
        "Patient: Zoë Ní Bhriain",
        f"When: {WEDNESDAY_IN_DUBLIN}",
        "Length: 30 minutes",
        f"Reference: {reference}",
        "Riverside Clinic",
    ]
    assert page.links == []


def test_provider_emails_carry_no_patient_link_or_contact_details(
    client, clinic, delivered, now, smtp_server
):
    answer = every_email(client, clinic, delivered, now)

    to_provider = [m for m in smtp_server.messages if m["To"] == PROVIDER_EMAIL]
    assert [subject_of(m) for m in to_provider] == [
        f"New booking on Wednesday 9 December 2026 ({answer['reference']})",
        f"Moved to Thursday 10 December 2026 ({answer['reference']})",
        f"Cancelled: appointment on Thursday 10 December 2026 ({answer['reference']})",
    ]
    for message in to_provider:
        for part in every_part(message):
            assert answer["token"] not in part
            assert "/booking/" not in part
            assert PATIENT_EMAIL not in part
            assert PATIENT_PHONE not in part


def test_provider_without_an_address_gets_no_email(
    client, free, delivered, smtp_server
):
    free.email = ""
    free.save(update_fields=["email"])

    with delivered():
        answer = book(client, free)

    reference = answer["reference"]
    assert headers(smtp_server) == [
        (
            PATIENT_EMAIL,
            f"Your appointment with Dr Ada Lovelace is confirmed ({reference})",
        )
    ]


# A new time and a cancellation.


def test_moved_booking_sends_the_patient_the_new_time(
    client, free, delivered, smtp_server
):
    with delivered():
        answer = book(client, free)
    smtp_server.messages.clear()

    with delivered():
        services.reschedule_booking(booking_of(answer), THURSDAY_TWO, PATIENT)

    reference = answer["reference"]
    assert headers(smtp_server) == [
        (
            PATIENT_EMAIL,
            f"Your appointment with Dr Ada Lovelace has a new time ({reference})",
        ),
        (PROVIDER_EMAIL, f"Moved to Thursday 10 December 2026 ({reference})"),
    ]
    assert text_lines(smtp_server.messages[1]) == [
        "Dear Dr Ada Lovelace,",
        "",
        "An appointment with you at Riverside Clinic has moved to a new time.",
        "",
        "Patient: Zoë Ní Bhriain",
        f"New time: {THURSDAY_IN_DUBLIN}",
        "Before: Wednesday 9 December 2026, 11:00",
        f"Reference: {reference}",
        "",
        "Riverside Clinic",
    ]
    moved = smtp_server.messages[0]
    assert text_lines(moved) == [
        "Dear Zoë Ní Bhriain,",
        "",
        "Your appointment with Dr Ada Lovelace at Riverside Clinic has moved. "
        "This is the new time:",
        "",
        f"When: {THURSDAY_IN_DUBLIN}",
        "Length: 30 minutes",
        f"Reference: {reference}",
        "",
        LINK_INTRO,
        link_of(answer),
        KEEP_PRIVATE,
        "",
        "The attached invitation moves the appointment in your calendar.",
        "",
        "We look forward to seeing you.",
        "",
        "Kind regards,",
        "Riverside Clinic",
    ]
    page = VisibleHtml(html_of(moved))
    assert page.title == "Your appointment has a new time"
    assert page.lines[2:6] == [
        "Your appointment with Dr Ada Lovelace at Riverside Clinic has moved. "
        "This is the new time:",
        f"When: {THURSDAY_IN_DUBLIN}",
        "Length: 30 minutes",
        f"Reference: {reference}",
    ]
    assert page.links == [link_of(answer)]


def test_cancelled_booking_tells_the_patient_and_the_provider(
    client, free, delivered, smtp_server
):
    with delivered():
        answer = book(client, free)
    smtp_server.messages.clear()

    with delivered():
        services.cancel_booking(booking_of(answer), PATIENT)

    reference = answer["reference"]
    assert headers(smtp_server) == [
        (
            PATIENT_EMAIL,
            f"Your appointment with Dr Ada Lovelace is cancelled ({reference})",
        ),
        (
            PROVIDER_EMAIL,
            f"Cancelled: appointment on Wednesday 9 December 2026 ({reference})",
        ),
    ]
    cancellation, notice = smtp_server.messages
    assert text_lines(cancellation) == [
        "Dear Zoë Ní Bhriain,",
        "",
        "Your appointment with Dr Ada Lovelace at Riverside Clinic is cancelled.",
        "",
        f"When: {WEDNESDAY_IN_DUBLIN}",
        f"Reference: {reference}",
        "",
        "The attached update removes the appointment from your calendar.",
        "",
        "You can still see this booking with your private link:",
        link_of(answer),
        "",
        "If you would like another appointment, you are welcome to book a new time.",
        "",
        "Kind regards,",
        "Riverside Clinic",
    ]
    page = VisibleHtml(html_of(cancellation))
    assert page.title == "Your appointment is cancelled"
    assert page.lines[6:8] == [
        "You can still see this booking with your private link:",
        "See your booking",
    ]
    assert page.links == [link_of(answer)]
    assert text_lines(notice) == [
        "Dear Dr Ada Lovelace,",
        "",
        "An appointment with you at Riverside Clinic has been cancelled. "
        "Its time is free again.",
        "",
        "Patient: Zoë Ní Bhriain",
        f"When: {WEDNESDAY_IN_DUBLIN}",
        f"Reference: {reference}",
        "",
        "Riverside Clinic",
    ]
    assert VisibleHtml(html_of(notice)).lines == [
        "Appointment cancelled",
        "Dear Dr Ada Lovelace,",
        "An appointment with you at Riverside Clinic has been cancelled. "
        "Its time is free again.",
        "Patient: Zoë Ní Bhriain",
        f"When: {WEDNESDAY_IN_DUBLIN}",
        f"Reference: {reference}",
        "Riverside Clinic",
    ]


# Payment receipts.


def test_payment_sends_a_receipt_with_the_amount(
    client, clinic, delivered, smtp_server
):
    with delivered():
        answer = book(client, clinic)
    with delivered():
        pay(answer)

    reference = answer["reference"]
    assert headers(smtp_server) == [
        (
            PATIENT_EMAIL,
            f"Your appointment with Dr Ada Lovelace is confirmed ({reference})",
        ),
        (PROVIDER_EMAIL, f"New booking on Wednesday 9 December 2026 ({reference})"),
        (PATIENT_EMAIL, f"Receipt for your payment to Riverside Clinic ({reference})"),
    ]
    receipt = smtp_server.messages[2]
    assert text_lines(receipt) == [
        "Dear Zoë Ní Bhriain,",
        "",
        "Thank you for your payment for your appointment with Dr Ada Lovelace at "
        "Riverside Clinic. Please keep this email as your receipt.",
        "",
        "Amount paid: €80.00",
        "Paid on: 7 December 2026, 08:00 (Irish Time, Europe/Dublin)",
        f"Reference: {reference}",
        f"Appointment: {WEDNESDAY_IN_DUBLIN}",
        "",
        LINK_INTRO,
        link_of(answer),
        KEEP_PRIVATE,
        "",
        "Kind regards,",
        "Riverside Clinic",
    ]
    page = VisibleHtml(html_of(receipt))
    assert page.title == "Thank you for your payment"
    assert page.lines[3:7] == [
        "Amount paid: €80.00",
        "Paid on: 7 December 2026, 08:00 (Irish Time, Europe/Dublin)",
        f"Reference: {reference}",
        f"Appointment: {WEDNESDAY_IN_DUBLIN}",
    ]
    assert receipt.get_content_type() == "multipart/alternative"


def test_payment_settled_twice_sends_one_receipt(
    client, clinic, delivered, jobs, smtp_server
):
    with delivered():
        answer = book(client, clinic)
    with delivered():
        pay(answer)
    with delivered():
        pay(answer)
    assert requeue_due_messages() == 0
    jobs.run()

    receipts = [m for m in smtp_server.messages if subject_of(m).startswith("Receipt")]
    assert [subject_of(m) for m in receipts] == [
        f"Receipt for your payment to Riverside Clinic ({answer['reference']})"
    ]
    assert OutboxMessage.objects.filter(template="payment_receipt").count() == 1


def test_free_booking_sends_no_receipt(client, free, delivered, smtp_server):
    with delivered():
        book(client, free)

    assert OutboxMessage.objects.filter(template="payment_receipt").count() == 0


# Reminders.


def reminders() -> list[tuple]:
    return list(
        OutboxMessage.objects.filter(template="reminder")
        .order_by("pk")
        .values_list("status", "appointment_start", "next_attempt_at")
    )


def reminder_subjects(smtp_server) -> list[str]:
    return [subject_of(m) for m in smtp_server.messages if "Reminder" in subject_of(m)]


def reminder_subject(answer: dict) -> str:
    return f"Reminder: your appointment with Dr Ada Lovelace ({answer['reference']})"


def test_reminder_is_queued_for_24_hours_before_the_start(
    client, free, delivered, smtp_server
):
    with delivered():
        book(client, free)

    assert reminders() == [
        ("pending", WEDNESDAY_ELEVEN, datetime(2026, 12, 8, 11, 0, tzinfo=UTC))
    ]
    assert reminder_subjects(smtp_server) == []


def test_reminder_is_sent_when_its_time_comes(
    client, free, delivered, now, smtp_server
):
    with delivered():
        answer = book(client, free)

    with delivered():
        now.move_to(datetime(2026, 12, 8, 10, 59, 59, tzinfo=UTC))
    assert reminder_subjects(smtp_server) == []

    with delivered():
        now.move_to(datetime(2026, 12, 8, 11, 0, tzinfo=UTC))

    reference = answer["reference"]
    assert reminder_subjects(smtp_server) == [
        f"Reminder: your appointment with Dr Ada Lovelace ({reference})"
    ]
    reminder = smtp_server.messages[-1]
    assert reminder["To"] == PATIENT_EMAIL
    assert text_lines(reminder) == [
        "Dear Zoë Ní Bhriain,",
        "",
        "This is a reminder of your appointment with Dr Ada Lovelace at "
        "Riverside Clinic.",
        "",
        f"When: {WEDNESDAY_IN_DUBLIN}",
        "Length: 30 minutes",
        f"Reference: {reference}",
        "",
        "If you can no longer come, please cancel or move the appointment with "
        "your private link, so that someone else can have the time:",
        link_of(answer),
        KEEP_PRIVATE,
        "",
        "We look forward to seeing you.",
        "",
        "Kind regards,",
        "Riverside Clinic",
    ]
    page = VisibleHtml(html_of(reminder))
    assert page.title == "Your appointment is coming up"
    assert page.lines[2:6] == [
        "This is a reminder of your appointment with Dr Ada Lovelace at "
        "Riverside Clinic.",
        f"When: {WEDNESDAY_IN_DUBLIN}",
        "Length: 30 minutes",
        f"Reference: {reference}",
    ]
    assert page.links == [link_of(answer)]
    assert reminder.get_content_type() == "multipart/alternative"
    assert reminders()[0][0] == "sent"


def test_reminder_is_sent_once_however_often_the_queue_runs(
    client, free, delivered, jobs, now, smtp_server
):
    with delivered():
        answer = book(client, free)
    now.move_to(datetime(2026, 12, 8, 11, 0, tzinfo=UTC))

    # The sweep hands the due reminder to the queue a second time.
    assert requeue_due_messages() == 1
    jobs.run()
    jobs.run()
    assert requeue_due_messages() == 0
    reminder = OutboxMessage.objects.get(template="reminder")
    assert deliver(reminder.pk) == "not due"

    assert reminder_subjects(smtp_server) == [reminder_subject(answer)]
    reminder.refresh_from_db()
    assert (reminder.status, reminder.attempts) == ("sent", 1)


def test_cancelled_booking_gets_no_reminder(client, free, delivered, now, smtp_server):
    with delivered():
        answer = book(client, free)
    with delivered():
        services.cancel_booking(booking_of(answer), PATIENT)

    with delivered():
        now.move_to(datetime(2026, 12, 8, 11, 0, tzinfo=UTC))
    with delivered():
        now.move_to(WEDNESDAY_ELEVEN)

    assert reminders() == [
        ("cancelled", WEDNESDAY_ELEVEN, datetime(2026, 12, 8, 11, 0, tzinfo=UTC))
    ]
    assert reminder_subjects(smtp_server) == []


def test_moved_booking_is_reminded_of_its_new_time_only(
    client, free, delivered, now, smtp_server
):
    with delivered():
        answer = book(client, free)
    with delivered():
        services.reschedule_booking(booking_of(answer), THURSDAY_TWO, PATIENT)

    assert reminders() == [
        ("cancelled", WEDNESDAY_ELEVEN, datetime(2026, 12, 8, 11, 0, tzinfo=UTC)),
        ("pending", THURSDAY_TWO, datetime(2026, 12, 9, 14, 0, tzinfo=UTC)),
    ]

    with delivered():
        now.move_to(datetime(2026, 12, 8, 11, 0, tzinfo=UTC))
    assert reminder_subjects(smtp_server) == []

    with delivered():
        now.move_to(datetime(2026, 12, 9, 14, 0, tzinfo=UTC))
    assert reminder_subjects(smtp_server) == [reminder_subject(answer)]
    assert text_lines(smtp_server.messages[-1])[4] == f"When: {THURSDAY_IN_DUBLIN}"


def test_reminder_for_a_time_the_booking_no_longer_has_is_dropped(
    client, free, delivered, now, smtp_server
):
    with delivered():
        answer = book(client, free)
    # Moved behind the services' back: the row still waits, the guard holds.
    Booking.objects.filter(reference=answer["reference"]).update(
        start=THURSDAY_TWO,
        end=THURSDAY_TWO + timedelta(minutes=30),
        blocked_start=THURSDAY_TWO,
        blocked_end=THURSDAY_TWO + timedelta(minutes=40),
    )

    with delivered():
        now.move_to(datetime(2026, 12, 8, 11, 0, tzinfo=UTC))

    assert reminder_subjects(smtp_server) == []
    assert reminders()[0][0] == "cancelled"


def test_reminder_hours_come_from_the_settings(
    client, free, delivered, now, settings, smtp_server
):
    settings.CAREBOOK_REMINDER_HOURS = 48

    with delivered():
        answer = book(client, free)
    assert reminders() == [
        ("pending", WEDNESDAY_ELEVEN, datetime(2026, 12, 7, 11, 0, tzinfo=UTC))
    ]

    with delivered():
        now.move_to(datetime(2026, 12, 7, 11, 0, tzinfo=UTC))
    assert reminder_subjects(smtp_server) == [reminder_subject(answer)]


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        (24, [("pending", datetime(2026, 12, 7, 9, 0, tzinfo=UTC))]),
        # The reminder would be due this very moment: too late to remind.
        (25, []),
        (26, []),
    ],
)
def test_no_reminder_when_the_appointment_is_nearer_than_the_reminder_time(
    client, free, delivered, settings, hours, expected
):
    settings.CAREBOOK_REMINDER_HOURS = hours
    tuesday_nine = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)

    with delivered():
        book(client, free, start=tuesday_nine)

    assert [(status, sent_at) for status, _, sent_at in reminders()] == expected


def test_no_reminder_for_an_appointment_later_today(client, free, delivered):
    with delivered():
        book(client, free, start=datetime(2026, 12, 7, 11, 0, tzinfo=UTC))

    assert reminders() == []


# Every email: privacy, escaping, names and zones.


def test_no_email_names_the_appointment_type_or_the_specialty(
    client, clinic, delivered, now, smtp_server
):
    AppointmentType.objects.filter(slug="consultation").update(
        name="Sexual health screening"
    )
    clinic.specialty = "Genitourinary medicine"
    clinic.save(update_fields=["specialty"])

    every_email(client, clinic, delivered, now)

    assert len(smtp_server.messages) == 8
    for message in smtp_server.messages:
        for part in every_part(message):
            for clinical in ("sexual", "screening", "genitourinary", "consultation"):
                assert clinical not in part.lower()


def test_every_email_arrives_with_the_expected_subject(
    client, clinic, delivered, now, smtp_server
):
    answer = every_email(client, clinic, delivered, now)

    reference = answer["reference"]
    assert headers(smtp_server) == [
        (
            PATIENT_EMAIL,
            f"Your appointment with Dr Ada Lovelace is confirmed ({reference})",
        ),
        (PROVIDER_EMAIL, f"New booking on Wednesday 9 December 2026 ({reference})"),
        (PATIENT_EMAIL, f"Receipt for your payment to Riverside Clinic ({reference})"),
        (
            PATIENT_EMAIL,
            f"Your appointment with Dr Ada Lovelace has a new time ({reference})",
        ),
        (PROVIDER_EMAIL, f"Moved to Thursday 10 December 2026 ({reference})"),
        (
            PATIENT_EMAIL,
            f"Reminder: your appointment with Dr Ada Lovelace ({reference})",
        ),
        (
            PATIENT_EMAIL,
            f"Your appointment with Dr Ada Lovelace is cancelled ({reference})",
        ),
        (
            PROVIDER_EMAIL,
            f"Cancelled: appointment on Thursday 10 December 2026 ({reference})",
        ),
    ]


def test_html_escapes_a_hostile_patient_name_in_every_email(
    client, clinic, delivered, now, smtp_server
):
    every_email(client, clinic, delivered, now, name="Zoë <script>alert(1)</script>")

    assert len(smtp_server.messages) == 8
    for message in smtp_server.messages:
        html = html_of(message)
        assert "Zoë &lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "<script" not in html
        assert "Zoë <script>alert(1)</script>" in "\n".join(text_lines(message))


def test_text_and_subjects_keep_apostrophes_and_ampersands_as_typed(
    client, clinic, delivered, now, smtp_server
):
    Practice.objects.update(name="Smith & O'Neill")
    clinic.name = "Dr Seán O'Brien"
    clinic.save(update_fields=["name"])

    answer = every_email(client, clinic, delivered, now, name="Aoife O'Connor")

    confirmation = smtp_server.messages[0]
    assert subject_of(confirmation) == (
        f"Your appointment with Dr Seán O'Brien is confirmed ({answer['reference']})"
    )
    assert text_lines(confirmation)[:3] == [
        "Dear Aoife O'Connor,",
        "",
        "Your appointment with Dr Seán O'Brien at Smith & O'Neill is confirmed.",
    ]
    assert VisibleHtml(html_of(confirmation)).lines[1:3] == [
        "Dear Aoife O'Connor,",
        "Your appointment with Dr Seán O'Brien at Smith & O'Neill is confirmed.",
    ]
    for message in smtp_server.messages:
        text = subject_of(message) + "\n".join(text_lines(message))
        assert "&#x27;" not in text
        assert "&amp;" not in text
        assert "Smith &amp; O&#x27;Neill" in html_of(message)


def test_unicode_names_arrive_intact_in_headers_and_bodies(
    client, clinic, delivered, now, smtp_server
):
    clinic.name = "Dr 山田太郎"
    clinic.save(update_fields=["name"])

    answer = every_email(client, clinic, delivered, now, name="Zoë Ní Bhriain")

    reference = answer["reference"]
    assert [subject_of(m) for m in smtp_server.messages][:2] == [
        f"Your appointment with Dr 山田太郎 is confirmed ({reference})",
        f"New booking on Wednesday 9 December 2026 ({reference})",
    ]
    assert [text_lines(m)[0] for m in smtp_server.messages] == [
        "Dear Zoë Ní Bhriain,",
        "Dear Dr 山田太郎,",
        "Dear Zoë Ní Bhriain,",
        "Dear Zoë Ní Bhriain,",
        "Dear Dr 山田太郎,",
        "Dear Zoë Ní Bhriain,",
        "Dear Zoë Ní Bhriain,",
        "Dear Dr 山田太郎,",
    ]
    assert text_lines(smtp_server.messages[1])[4] == "Patient: Zoë Ní Bhriain"
    assert VisibleHtml(html_of(smtp_server.messages[0])).lines[1:3] == [
        "Dear Zoë Ní Bhriain,",
        "Your appointment with Dr 山田太郎 at Riverside Clinic is confirmed.",
    ]


def test_patient_name_in_a_cjk_script_arrives_intact(
    client, free, delivered, smtp_server
):
    with delivered():
        book(client, free, name="山田太郎")

    confirmation, notice = smtp_server.messages
    assert text_lines(confirmation)[0] == "Dear 山田太郎,"
    assert VisibleHtml(html_of(confirmation)).lines[1] == "Dear 山田太郎,"
    assert text_lines(notice)[4] == "Patient: 山田太郎"


def test_patient_reads_times_in_their_own_zone_and_the_provider_in_theirs(
    client, clinic, delivered, smtp_server
):
    with delivered():
        answer = book(client, clinic, timezone="America/New_York")
    with delivered():
        pay(answer)

    confirmation, notice, receipt = smtp_server.messages
    in_new_york = (
        "Wednesday 9 December 2026, 06:00–06:30 (Eastern Time, America/New_York)"
    )
    assert text_lines(confirmation)[4] == f"When: {in_new_york}"
    assert VisibleHtml(html_of(confirmation)).lines[3] == f"When: {in_new_york}"
    assert text_lines(receipt)[5:8] == [
        "Paid on: 7 December 2026, 03:00 (Eastern Time, America/New_York)",
        f"Reference: {answer['reference']}",
        f"Appointment: {in_new_york}",
    ]
    assert text_lines(notice)[5] == f"When: {WEDNESDAY_IN_DUBLIN}"


# German.


def test_german_patient_gets_german_emails_with_german_dates(
    client, free, delivered, smtp_server
):
    with delivered():
        answer = book(client, free, language="de")

    reference = answer["reference"]
    in_german = (
        "Mittwoch, 9. Dezember 2026, 11:00–11:30 Uhr (Irische Zeit, Europe/Dublin)"
    )
    # The practice writes English (en_IE), so its provider reads English.
    assert headers(smtp_server) == [
        (PATIENT_EMAIL, f"Ihr Termin bei Dr Ada Lovelace ist bestätigt ({reference})"),
        (PROVIDER_EMAIL, f"New booking on Wednesday 9 December 2026 ({reference})"),
    ]
    confirmation = smtp_server.messages[0]
    assert text_lines(confirmation) == [
        "Guten Tag Zoë Ní Bhriain,",
        "",
        "Ihr Termin bei Dr Ada Lovelace, Riverside Clinic, ist bestätigt.",
        "",
        f"Termin: {in_german}",
        "Dauer: 30 Minuten",
        f"Buchungsnummer: {reference}",
        "",
        "Über Ihren persönlichen Link können Sie Ihren Termin ansehen, verschieben "
        "oder absagen:",
        link_of(answer),
        "Bitte geben Sie diesen Link nicht weiter: Wer ihn hat, kann Ihre Buchung "
        "ändern.",
        "",
        "Mit der angehängten Einladung tragen Sie den Termin in Ihren Kalender ein.",
        "",
        "Wir freuen uns auf Ihren Besuch.",
        "",
        "Mit freundlichen Grüßen",
        "Riverside Clinic",
    ]
    page = VisibleHtml(html_of(confirmation))
    assert (page.lang, page.title) == ("de", "Ihr Termin ist bestätigt")
    assert page.lines[:4] == [
        "Ihr Termin ist bestätigt",
        "Guten Tag Zoë Ní Bhriain,",
        "Ihr Termin bei Dr Ada Lovelace, Riverside Clinic, ist bestätigt.",
        f"Termin: {in_german}",
    ]
    assert "Termin verwalten" in page.lines


def test_german_receipt_and_reminder_use_german_money_and_dates(
    client, clinic, delivered, now, smtp_server
):
    with delivered():
        answer = book(client, clinic, language="de")
    with delivered():
        pay(answer)
    with delivered():
        now.move_to(datetime(2026, 12, 8, 11, 0, tzinfo=UTC))

    reference = answer["reference"]
    receipt, reminder = smtp_server.messages[2:]
    assert subject_of(receipt) == (
        f"Quittung für Ihre Zahlung an Riverside Clinic ({reference})"
    )
    assert text_lines(receipt)[4:8] == [
        "Bezahlter Betrag: 80,00\xa0€",
        "Bezahlt am: 7. Dezember 2026, 08:00 Uhr (Irische Zeit, Europe/Dublin)",
        f"Buchungsnummer: {reference}",
        "Termin: Mittwoch, 9. Dezember 2026, 11:00–11:30 Uhr "
        "(Irische Zeit, Europe/Dublin)",
    ]
    assert subject_of(reminder) == (
        f"Erinnerung: Ihr Termin bei Dr Ada Lovelace ({reference})"
    )
    assert text_lines(reminder)[2] == (
        "Wir erinnern Sie an Ihren Termin bei Dr Ada Lovelace, Riverside Clinic."
    )
