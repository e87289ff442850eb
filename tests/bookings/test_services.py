"""The booking life cycle: hold, add the patient, pay, confirm, expire."""

from datetime import UTC, datetime, timedelta

import pytest

from carebook.audit.models import AuditEntry
from carebook.audit.services import PATIENT
from carebook.bookings import services
from carebook.bookings.models import Booking
from carebook.payments.models import Payment, PaymentAttempt, Refund
from carebook.payments.services import record_decline, request_refund
from carebook.practice.models import Service
from tests.conftest import MONDAY_MORNING
from tests.factories import make_booking

ELEVEN = datetime(2026, 12, 7, 11, 0, tzinfo=UTC)
PATIENT_DETAILS = services.PatientDetails("Zoë Ní Bhriain", "zoe@example.ie", "")
RETURN_URL = "http://testserver/booking/t/"


def hold(provider, appointment_type, start=ELEVEN, **extra):
    return services.hold_slot(
        provider=provider,
        appointment_type=appointment_type,
        start=start,
        patient_timezone="Europe/Dublin",
        source=Booking.Source.API,
        actor=PATIENT,
        **extra,
    )


def pay(booking):
    payment = booking.payments.get()
    return services.settle_payment(payment.pk, "demo_ref", PATIENT)


@pytest.fixture
def pending(provider, consultation, now):
    held = hold(provider, consultation)
    return services.add_patient_details(
        held.booking, PATIENT_DETAILS, RETURN_URL, PATIENT
    )


def test_hold_copies_price_and_blocks_buffers(provider, consultation, now):
    booking = hold(provider, consultation).booking

    assert booking.status == "held"
    assert (booking.price_amount, booking.currency) == (8000, "EUR")
    assert booking.start == ELEVEN
    assert booking.end == ELEVEN + timedelta(minutes=30)
    assert booking.blocked_start == ELEVEN
    assert booking.blocked_end == ELEVEN + timedelta(minutes=40)
    assert booking.hold_expires_at == datetime(2026, 12, 7, 8, 10, tzinfo=UTC)
    assert len(booking.reference) == 8


def test_token_is_stored_only_as_a_hash(provider, consultation, now):
    held = hold(provider, consultation)

    assert held.token not in held.booking.token_hash
    assert services.find_booking_by_token(held.token) == held.booking
    assert services.find_booking_by_token(held.token + "x") is None


def test_second_hold_of_a_taken_slot_is_refused(provider, consultation, now):
    hold(provider, consultation)

    with pytest.raises(services.SlotUnavailable):
        hold(provider, consultation)
    assert Booking.objects.count() == 1


def test_overlapping_booking_with_another_start_is_refused(
    provider, consultation, follow_up, now
):
    hold(provider, consultation)  # 11:00–11:30, blocked to 11:40

    with pytest.raises(services.SlotUnavailable):
        hold(provider, follow_up, start=ELEVEN + timedelta(minutes=15))
    with pytest.raises(services.SlotUnavailable):
        hold(provider, follow_up, start=ELEVEN + timedelta(minutes=30))
    assert Booking.objects.count() == 1


def test_booking_right_after_the_buffer_is_allowed(
    provider, consultation, follow_up, now
):
    hold(provider, consultation)

    later = hold(provider, follow_up, start=ELEVEN + timedelta(minutes=45)).booking

    assert later.start == datetime(2026, 12, 7, 11, 45, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "reason"),
    [
        (datetime(2026, 12, 7, 9, 45, tzinfo=UTC), "inside the 2 hour notice"),
        (datetime(2026, 12, 7, 10, 5, tzinfo=UTC), "off the 15 minute grid"),
        (datetime(2026, 12, 7, 12, 15, tzinfo=UTC), "runs into lunch"),
        (datetime(2026, 12, 12, 10, 0, tzinfo=UTC), "a Saturday"),
        (datetime(2027, 2, 8, 10, 0, tzinfo=UTC), "beyond the 60 day horizon"),
    ],
)
def test_time_that_is_not_a_slot_is_refused(provider, consultation, now, start, reason):
    with pytest.raises(services.SlotUnavailable):
        hold(provider, consultation, start=start)
    assert Booking.objects.count() == 0


def test_type_the_provider_does_not_offer_is_refused(provider, consultation, now):
    Service.objects.filter(appointment_type=consultation).delete()

    with pytest.raises(services.NotOffered):
        hold(provider, consultation)
    assert Booking.objects.count() == 0


def test_lapsed_hold_frees_its_slot(provider, consultation, now):
    first = hold(provider, consultation).booking

    now.shift(timedelta(minutes=10))
    second = hold(provider, consultation).booking

    first.refresh_from_db()
    assert first.status == "expired"
    assert second.status == "held"


def test_hold_is_kept_until_its_last_moment(provider, consultation, now):
    hold(provider, consultation)

    now.shift(timedelta(minutes=9, seconds=59))
    with pytest.raises(services.SlotUnavailable):
        hold(provider, consultation)


def test_details_on_a_paid_service_open_a_payment(pending, now):
    assert pending.status == "pending_payment"
    assert pending.patient_name == "Zoë Ní Bhriain"
    assert pending.hold_expires_at == datetime(2026, 12, 7, 8, 30, tzinfo=UTC)
    payment = pending.payments.get()
    assert (payment.status, payment.amount, payment.currency) == (
        "pending",
        8000,
        "EUR",
    )
    assert payment.return_url == RETURN_URL


def test_free_service_is_confirmed_without_payment(provider, consultation, now):
    Service.objects.filter(appointment_type=consultation).update(price_amount=0)
    held = hold(provider, consultation)

    booking = services.add_patient_details(
        held.booking, PATIENT_DETAILS, RETURN_URL, PATIENT
    )

    assert booking.status == "confirmed"
    assert booking.confirmed_at == datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    assert booking.payments.count() == 0


def test_details_after_the_hold_lapsed_are_refused(provider, consultation, now):
    held = hold(provider, consultation)
    now.shift(timedelta(minutes=10))

    with pytest.raises(services.WrongState):
        services.add_patient_details(held.booking, PATIENT_DETAILS, RETURN_URL, PATIENT)
    held.booking.refresh_from_db()
    assert held.booking.patient_name == ""


def test_payment_confirms_the_booking_once(pending, now):
    now.shift(timedelta(minutes=5))
    pay(pending)
    again = pay(pending)

    assert again.status == "confirmed"
    assert again.confirmed_at == datetime(2026, 12, 7, 8, 5, tzinfo=UTC)
    assert again.hold_expires_at is None
    assert AuditEntry.objects.filter(action="booking.confirmed").count() == 1
    assert PaymentAttempt.objects.filter(outcome="succeeded").count() == 1


def test_decline_keeps_the_payment_open(pending, now):
    payment = pending.payments.get()

    record_decline(payment, "insufficient_funds", PATIENT)

    payment.refresh_from_db()
    assert payment.status == "pending"
    assert list(payment.attempts.values_list("outcome", "decline_reason")) == [
        ("declined", "insufficient_funds")
    ]


def test_late_payment_confirms_when_the_time_is_still_free(pending, now):
    now.shift(timedelta(minutes=31))
    assert services.expire_lapsed_holds() == 1

    booking = pay(pending)

    assert booking.status == "confirmed"
    assert booking.payments.get().status == "succeeded"


def test_late_payment_is_refunded_when_the_time_was_taken(
    pending, provider, consultation, now, jobs, django_capture_on_commit_callbacks
):
    now.shift(timedelta(minutes=31))
    services.expire_lapsed_holds()
    hold(provider, consultation)

    with django_capture_on_commit_callbacks(execute=True):
        booking = pay(pending)
    jobs.run()

    assert booking.status == "expired"
    payment = booking.payments.get()
    assert (payment.status, payment.refunded_amount) == ("refunded", 8000)
    refund = payment.refunds.get()
    assert (refund.amount, refund.reason, refund.status) == (
        8000,
        "time_taken",
        "succeeded",
    )
    assert list(booking.outbox_messages.values_list("template", flat=True)) == [
        "payment_refunded"
    ]


def test_late_payment_before_the_expiry_job_ran(pending, provider, consultation, now):
    now.shift(timedelta(minutes=31))

    booking = pay(pending)

    assert booking.status == "confirmed"
    # The booking went straight from waiting to confirmed.
    assert not AuditEntry.objects.filter(action="booking.expired").exists()


def test_released_hold_frees_its_time_at_once(provider, consultation, now):
    first = hold(provider, consultation).booking

    assert services.release_hold(first, PATIENT) is True
    assert services.release_hold(first, PATIENT) is False
    second = hold(provider, consultation).booking

    first.refresh_from_db()
    assert (first.status, second.status) == ("expired", "held")


def test_expiry_job_expires_only_lapsed_holds(provider, consultation, follow_up, now):
    early = hold(provider, consultation).booking
    now.shift(timedelta(minutes=5))
    late = hold(provider, follow_up, start=ELEVEN + timedelta(hours=1)).booking
    now.shift(timedelta(minutes=5))

    assert services.expire_lapsed_holds() == 1

    early.refresh_from_db()
    late.refresh_from_db()
    assert (early.status, late.status) == ("expired", "held")


def test_expiry_closes_the_open_payment(pending, now):
    now.shift(timedelta(minutes=30))

    services.expire_lapsed_holds()

    assert pending.payments.get().status == Payment.Status.CANCELLED


def test_later_price_change_does_not_touch_the_booking(pending, provider):
    Service.objects.filter(provider=provider).update(price_amount=9900)

    pending.refresh_from_db()
    assert pending.price_amount == 8000
    assert pending.payments.get().amount == 8000


def test_every_step_is_audited(pending, now):
    pay(pending)

    actions = list(
        AuditEntry.objects.order_by("id").values_list("action", "actor_kind")
    )
    assert actions == [
        ("booking.held", "patient"),
        ("booking.pending_payment", "patient"),
        ("payment.started", "patient"),
        ("payment.succeeded", "patient"),
        ("booking.confirmed", "patient"),
    ]


def test_booking_keeps_the_cancellation_policy_it_was_made_under(
    provider, consultation, practice, now
):
    practice.free_cancellation_hours = 48
    practice.late_cancellation_fee_percent = 50
    practice.save()
    consultation.free_cancellation_hours = 12
    consultation.save()

    booking = hold(provider, consultation).booking
    practice.late_cancellation_fee_percent = 100
    practice.save()

    booking.refresh_from_db()
    assert (booking.free_cancellation_hours, booking.late_cancellation_fee_percent) == (
        12,
        50,
    )


@pytest.mark.parametrize("mark", [Booking.Status.COMPLETED, Booking.Status.NO_SHOW])
def test_a_started_appointment_is_marked_attended_or_missed(
    provider, consultation, now, mark
):
    booking = make_booking(provider, consultation, MONDAY_MORNING - timedelta(hours=1))

    services.record_attendance(booking, mark, PATIENT)

    booking.refresh_from_db()
    assert booking.status == mark
    entry = AuditEntry.objects.get(object_id=str(booking.pk))
    assert (entry.action, entry.changes) == (
        f"booking.{mark}",
        {"from": "confirmed", "to": mark},
    )


def test_a_no_show_marked_by_mistake_is_corrected_to_completed(
    provider, consultation, now
):
    booking = make_booking(
        provider,
        consultation,
        MONDAY_MORNING - timedelta(hours=1),
        status=Booking.Status.NO_SHOW,
    )

    services.record_attendance(booking, Booking.Status.COMPLETED, PATIENT)

    booking.refresh_from_db()
    assert booking.status == Booking.Status.COMPLETED


def test_an_appointment_still_to_come_cannot_be_marked(provider, consultation, now):
    booking = make_booking(provider, consultation, MONDAY_MORNING + timedelta(hours=1))

    with pytest.raises(services.WrongState, match="has not started yet"):
        services.record_attendance(booking, Booking.Status.NO_SHOW, PATIENT)

    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED
    assert AuditEntry.objects.count() == 0


def test_a_cancelled_booking_cannot_be_marked(provider, consultation, now):
    booking = make_booking(
        provider,
        consultation,
        MONDAY_MORNING - timedelta(hours=1),
        status=Booking.Status.CANCELLED,
    )

    with pytest.raises(services.WrongState, match="A cancelled booking cannot"):
        services.record_attendance(booking, Booking.Status.COMPLETED, PATIENT)

    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED


def test_the_refund_on_cancelling_leaves_out_a_refund_under_way(pending, now):
    booking = pay(pending)
    request_refund(booking.payments.get(), 3000, Refund.Reason.GATEWAY, PATIENT)

    # Two days ahead, the policy gives back all 80.00; 30.00 is on its way.
    two_days_ahead = ELEVEN - timedelta(days=2)
    assert services.refund_on_cancelling(booking, now=two_days_ahead) == 5000
    # Within the 24 free hours the late fee takes it all.
    assert services.refund_on_cancelling(booking, now=MONDAY_MORNING) == 0
