"""What Carebook tells patients and providers, and when.

Each function runs inside the transaction of the change it reports and only
writes outbox rows; workers send them after the commit.
"""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone, translation

from carebook.calendars.services import queue_calendar_push
from carebook.money import format_money
from carebook.notifications.invites import build_invite
from carebook.notifications.models import OutboxMessage
from carebook.notifications.outbox import cancel_pending, queue_email
from carebook.notifications.rendering import (
    appointment_context,
    babel_locale,
    language_for,
    render_email,
)

PATIENT = OutboxMessage.Audience.PATIENT
PROVIDER = OutboxMessage.Audience.PROVIDER
REMINDER = "reminder"


def _to_patient(
    booking, template: str, method: str = "", context=None, **queue_options
) -> None:
    """Queue an email to the patient, in their language and zone."""
    language = language_for(booking.patient_language)
    context = appointment_context(booking, booking.patient_timezone, language) | (
        context or {}
    )
    calendar = ""
    if method:
        with translation.override(language):
            calendar = build_invite(booking, method)
    email = render_email(
        template,
        PATIENT,
        booking.patient_email,
        language,
        context,
        calendar,
        method,
    )
    queue_email(email, booking=booking, **queue_options)


def _to_provider(booking, template: str) -> None:
    """Queue an email to the provider, when they gave an address."""
    provider = booking.provider
    if not provider.email:
        return
    language = language_for(provider.practice.locale)
    context = appointment_context(booking, provider.zone_name, language)
    email = render_email(template, PROVIDER, provider.email, language, context)
    queue_email(email, booking=booking)


def _schedule_reminder(booking) -> None:
    """Queue the reminder, unless the appointment is too near for one."""
    send_at = booking.start - timedelta(hours=settings.CAREBOOK_REMINDER_HOURS)
    if send_at <= timezone.now():
        return
    _to_patient(
        booking,
        REMINDER,
        send_at=send_at,
        appointment_start=booking.start,
        dedupe_key=f"reminder:{booking.pk}:{booking.sequence}",
    )


def notify_booking_confirmed(booking) -> None:
    """Send the patient the confirmation and invite; tell the provider."""
    _to_patient(booking, "booking_confirmed", method="REQUEST")
    _to_provider(booking, "provider_new_booking")
    _schedule_reminder(booking)
    queue_calendar_push(booking, "put")


def notify_booking_rescheduled(booking) -> None:
    """Send the patient the new time; the invite updates the same event."""
    cancel_pending(booking, REMINDER)
    _to_patient(booking, "booking_rescheduled", method="REQUEST")
    _schedule_reminder(booking)
    queue_calendar_push(booking, "put")


def notify_booking_cancelled(booking) -> None:
    """Tell the patient (cancelling the event) and the provider."""
    cancel_pending(booking, REMINDER)
    _to_patient(booking, "booking_cancelled", method="CANCEL")
    _to_provider(booking, "provider_cancellation")
    queue_calendar_push(booking, "delete")


def _amount_for_patient(payment) -> str:
    """Return a payment's amount formatted as its patient reads money."""
    booking = payment.booking
    locale = babel_locale(
        language_for(booking.patient_language), booking.provider.practice.locale
    )
    return format_money(payment.amount, payment.currency, locale)


def notify_payment_received(payment) -> None:
    """Send the patient a receipt for a payment."""
    _to_patient(
        payment.booking,
        "payment_receipt",
        dedupe_key=f"receipt:{payment.pk}",
        context={
            "amount_paid": _amount_for_patient(payment),
            "paid_at": payment.completed_at,
        },
    )


def notify_payment_refunded(payment, reason: str) -> None:
    """Tell the patient a payment is being given back, and why."""
    _to_patient(
        payment.booking,
        "payment_refunded",
        dedupe_key=f"refunded:{payment.pk}:{reason}",
        context={"amount_refunded": _amount_for_patient(payment), "reason": reason},
    )
