"""A small New York practice whose figures were worked out by hand.

The range is Saturday 31 October to Monday 2 November 2026, local days in
America/New_York: clocks go back from 02:00 EDT to 01:00 EST on Sunday
1 November, so that day is 25 hours long. "Now" is Monday 2 November 15:00
UTC (10:00 EST). Times below are UTC; the local day follows in brackets.

Bookings (A = Dr Ada Lovelace, G = Dr Grace Hopper; C = consultation,
F = follow-up):

1. A-C completed: confirmed Fri 30 Oct (before the range), appointment
   Sat 31 Oct 14:00 (10:00 EDT); paid 80.00 on Fri 30.
2. A-F confirmed: picker 03:20, confirmed Sun 1 Nov 03:30 (Sat 31, 23:30
   EDT: the booking made at 23:30 local time); appointment Mon 2 Nov 14:00;
   paid 45.00 then.
3. G-C cancelled late: picker Sat 31 15:00, confirmed 15:05; appointment
   Sun 1 Nov 16:00; paid 100.00 after two declines; 50.00 refunded Sun 1
   Nov 06:00 (01:00 EST, the second 01:00).
4. G-C no-show: picker Sat 31 19:59, confirmed 20:00; appointment Sun 1 Nov
   05:30 (01:30 EDT, the first 01:30); paid 100.00.
5. A-C cancelled in time, refunded in full: picker Mon 2 Nov 04:00,
   confirmed 04:30 (Sun 1, 23:30 EST); appointment Tue 3 Nov (after the
   range); paid 80.00 then; refunded Mon 2 Nov 12:00.
6. A-F confirmed by the front desk (no slot picker, nothing paid online):
   confirmed Mon 2 Nov 13:00; appointment Mon 2 Nov 18:00 (not due yet).
7. A-C expired: held Sat 31 16:00, two cards declined, never paid.
8. A-C pending payment: held Mon 2 Nov 14:50.
9. A-F expired, paid late Sun 1 Nov 12:00 and refunded at 12:01 because
   the time was taken.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from carebook.bookings.models import Booking
from carebook.payments.models import Payment, PaymentAttempt, Refund
from carebook.practice.models import AppointmentType, Practice, Service
from tests.conftest import make_provider
from tests.factories import make_booking

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


def utc(month, day, hour, minute=0, second=0):
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


@dataclass
class Clinic:
    practice: Practice
    ada: object
    grace: object
    consultation: AppointmentType
    follow_up: AppointmentType
    bookings: dict


def pay(booking, amount, completed_at, status=Payment.Status.SUCCEEDED):
    return Payment.objects.create(
        booking=booking,
        provider=booking.provider,
        appointment_type=booking.appointment_type,
        gateway="demo",
        status=status,
        amount=amount,
        currency="USD",
        checkout_token=uuid.uuid4().hex,
        return_url="/",
        completed_at=completed_at,
    )


def attempt(payment, at, reason=""):
    outcome = (
        PaymentAttempt.Outcome.DECLINED if reason else PaymentAttempt.Outcome.SUCCEEDED
    )
    row = PaymentAttempt.objects.create(
        payment=payment,
        provider=payment.provider,
        appointment_type=payment.appointment_type,
        outcome=outcome,
        decline_reason=reason,
        amount=payment.amount,
        currency=payment.currency,
    )
    PaymentAttempt.objects.filter(pk=row.pk).update(at=at)


def refund(payment, amount, completed_at, reason=Refund.Reason.CANCELLATION):
    Refund.objects.create(
        payment=payment,
        provider=payment.provider,
        appointment_type=payment.appointment_type,
        amount=amount,
        currency=payment.currency,
        reason=reason,
        status=Refund.Status.SUCCEEDED,
        idempotency_key=uuid.uuid4().hex,
        completed_at=completed_at,
    )
    payment.refunded_amount += amount
    if payment.refunded_amount == payment.amount:
        payment.status = Payment.Status.REFUNDED
    payment.save()


@pytest.fixture
def clinic(db):
    practice = Practice.objects.create(
        slug="hudson",
        name="Hudson Street Clinic",
        timezone="America/New_York",
        currency="USD",
        locale="en_US",
    )
    consultation = AppointmentType.objects.create(
        practice=practice, slug="consultation", name="Consultation", duration_minutes=30
    )
    follow_up = AppointmentType.objects.create(
        practice=practice, slug="follow-up", name="Follow-up", duration_minutes=15
    )
    ada = make_provider(practice, "ada", "Dr Ada Lovelace", timezone="America/New_York")
    grace = make_provider(
        practice, "grace", "Dr Grace Hopper", "Cardiology", timezone="America/New_York"
    )
    for provider, price in ((ada, 8000), (grace, 10000)):
        Service.objects.create(
            provider=provider, appointment_type=consultation, price_amount=price
        )
    Service.objects.create(provider=ada, appointment_type=follow_up, price_amount=4500)

    def book(provider, kind, start, status, held, confirmed=None, picker=None):
        return make_booking(
            provider,
            kind,
            start,
            status=status,
            held_at=held,
            confirmed_at=confirmed,
            picker_opened_at=picker,
            currency="USD",
            price_amount=8000 if kind == consultation else 4500,
            patient_name=f"Patient {provider.slug} {start:%d%H%M}",
        )

    S = Booking.Status
    bookings = {}
    bookings[1] = book(
        ada, consultation, utc(10, 31, 14), S.COMPLETED,
        held=utc(10, 30, 14, 1), confirmed=utc(10, 30, 14, 2), picker=utc(10, 30, 14),
    )  # fmt: skip
    payment = pay(bookings[1], 8000, utc(10, 30, 14, 2))
    attempt(payment, utc(10, 30, 14, 2))

    bookings[2] = book(
        ada, follow_up, utc(11, 2, 14), S.CONFIRMED,
        held=utc(11, 1, 3, 25), confirmed=utc(11, 1, 3, 30), picker=utc(11, 1, 3, 20),
    )  # fmt: skip
    payment = pay(bookings[2], 4500, utc(11, 1, 3, 30))
    attempt(payment, utc(11, 1, 3, 30))

    bookings[3] = book(
        grace, consultation, utc(11, 1, 16), S.CANCELLED,
        held=utc(10, 31, 15, 1), confirmed=utc(10, 31, 15, 5), picker=utc(10, 31, 15),
    )  # fmt: skip
    payment = pay(bookings[3], 10000, utc(10, 31, 15, 5))
    attempt(payment, utc(10, 31, 15, 3), "insufficient_funds")
    attempt(payment, utc(10, 31, 15, 4), "card_declined")
    attempt(payment, utc(10, 31, 15, 5))
    refund(payment, 5000, utc(11, 1, 6))

    bookings[4] = book(
        grace, consultation, utc(11, 1, 5, 30), S.NO_SHOW,
        held=utc(10, 31, 19, 59, 30), confirmed=utc(10, 31, 20),
        picker=utc(10, 31, 19, 59),
    )  # fmt: skip
    payment = pay(bookings[4], 10000, utc(10, 31, 20))
    attempt(payment, utc(10, 31, 20))

    bookings[5] = book(
        ada, consultation, utc(11, 3, 15), S.CANCELLED,
        held=utc(11, 2, 4, 10), confirmed=utc(11, 2, 4, 30), picker=utc(11, 2, 4),
    )  # fmt: skip
    payment = pay(bookings[5], 8000, utc(11, 2, 4, 30))
    attempt(payment, utc(11, 2, 4, 30))
    refund(payment, 8000, utc(11, 2, 12))

    bookings[6] = book(
        ada, follow_up, utc(11, 2, 18), S.CONFIRMED,
        held=utc(11, 2, 13), confirmed=utc(11, 2, 13),
    )  # fmt: skip

    bookings[7] = book(
        ada, consultation, utc(11, 1, 17), S.EXPIRED, held=utc(10, 31, 16)
    )
    payment = pay(bookings[7], 8000, utc(10, 31, 16, 30), status=Payment.Status.FAILED)
    attempt(payment, utc(10, 31, 16, 2), "expired_card")
    attempt(payment, utc(10, 31, 16, 3), "card_declined")

    bookings[8] = book(
        ada, consultation, utc(11, 2, 20), S.PENDING_PAYMENT, held=utc(11, 2, 14, 50)
    )

    bookings[9] = book(ada, follow_up, utc(11, 1, 19), S.EXPIRED, held=utc(11, 1, 11))
    payment = pay(bookings[9], 4500, utc(11, 1, 12))
    attempt(payment, utc(11, 1, 12))
    refund(payment, 4500, utc(11, 1, 12, 1), reason=Refund.Reason.TIME_TAKEN)

    return Clinic(practice, ada, grace, consultation, follow_up, bookings)


@pytest.fixture
def staff(clinic, django_user_model):
    """An owner, a front-desk user, Ada as a provider user, and an outsider."""
    from carebook.staff.models import Role
    from carebook.staff.roles import assign_role

    users = {}
    for name in ("owner", "desk", "ada", "outsider"):
        users[name] = django_user_model.objects.create_user(name)
    assign_role(users["owner"], Role.OWNER)
    assign_role(users["desk"], Role.FRONT_DESK)
    assign_role(users["ada"], Role.PROVIDER, provider=clinic.ada)
    return users
