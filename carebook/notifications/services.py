"""What Carebook tells patients and providers, and when.

Each function runs inside the transaction of the change it reports and only
writes outbox rows; workers send them after the commit.
"""

from datetime import timedelta

from babel.dates import format_date
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation

from carebook.calendars.services import queue_calendar_push
from carebook.money import format_money
from carebook.notifications.invites import build_invite
from carebook.notifications.models import OutboxMessage
from carebook.notifications.outbox import cancel_pending, queue_email
from carebook.notifications.rendering import (
    appointment_context,
    babel_locale,
    day_and_time,
    language_for,
    render_email,
)
from carebook.web.links import absolute_url

PATIENT = OutboxMessage.Audience.PATIENT
PROVIDER = OutboxMessage.Audience.PROVIDER
REMINDER = "reminder"


def _to_patient(
    booking, template: str, method: str = "", context=None, **queue_options
) -> None:
    """Queue an email to the patient, in their language and zone.

    A patient the desk booked by phone alone gets no email.
    """
    if not booking.patient_email:
        return
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


def _to_provider(booking, template: str, context=None) -> None:
    """Queue an email to the provider, when they gave an address."""
    provider = booking.provider
    if not provider.email:
        return
    language = language_for(provider.practice.locale)
    context = appointment_context(booking, provider.zone_name, language) | (
        context or {}
    )
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


def _payment_due_context(booking) -> dict:
    """Return what is still to pay of a booking confirmed before payment."""
    plans = booking.PaymentPlan
    if booking.payment_plan == plans.ONLINE or not booking.price_amount:
        return {}
    amount = (
        booking.online_amount
        if booking.payment_plan == plans.LATER
        else booking.price_amount
    )
    return {
        "amount_due": _money_for_patient(booking, amount),
        "pays_online_later": booking.payment_plan == plans.LATER,
    }


def notify_booking_confirmed(booking) -> None:
    """Send the patient the confirmation and invite; tell the provider."""
    _to_patient(
        booking,
        "booking_confirmed",
        method="REQUEST",
        context=_payment_due_context(booking),
    )
    _to_provider(booking, "provider_new_booking")
    _schedule_reminder(booking)
    queue_calendar_push(booking, "put")


def notify_booking_rescheduled(booking, previous_start) -> None:
    """Send the patient the new time (the invite updates the same event).

    The provider learns the new time and the one it replaces.
    """
    cancel_pending(booking, REMINDER)
    _to_patient(booking, "booking_rescheduled", method="REQUEST")
    provider = booking.provider
    locale = babel_locale(
        language_for(provider.practice.locale), provider.practice.locale
    )
    day, start_time = day_and_time(previous_start, provider.zone_name, locale)
    _to_provider(
        booking,
        "provider_rescheduled",
        {"previous_day": day, "previous_start_time": start_time},
    )
    _schedule_reminder(booking)
    queue_calendar_push(booking, "put")


def notify_booking_cancelled(booking, refunded: int = 0) -> None:
    """Tell the patient (cancelling the event, with any refund) and provider."""
    cancel_pending(booking, REMINDER)
    context = {}
    if refunded:
        context["amount_refunded"] = _money_for_patient(booking, refunded)
    _to_patient(booking, "booking_cancelled", method="CANCEL", context=context)
    _to_provider(booking, "provider_cancellation")
    queue_calendar_push(booking, "delete")


def _money_for_patient(booking, amount: int) -> str:
    """Return an amount of the booking's currency as its patient reads money."""
    locale = babel_locale(
        language_for(booking.patient_language), booking.provider.practice.locale
    )
    return format_money(amount, booking.currency, locale)


def notify_payment_received(payment) -> None:
    """Send the patient a receipt for a payment."""
    _to_patient(
        payment.booking,
        "payment_receipt",
        dedupe_key=f"receipt:{payment.pk}",
        context={
            "amount_paid": _money_for_patient(payment.booking, payment.amount),
            "paid_at": payment.completed_at,
        },
    )


def notify_payment_refunded(payment, reason: str) -> None:
    """Tell the patient a payment is being given back, and why."""
    _to_patient(
        payment.booking,
        "payment_refunded",
        dedupe_key=f"refunded:{payment.pk}:{reason}",
        context={
            "amount_refunded": _money_for_patient(payment.booking, payment.amount),
            "reason": reason,
        },
    )


def _waitlist_context(entry, language: str) -> dict:
    """Return what every email about a place on the waitlist may show."""
    practice = entry.provider.practice
    return {
        "practice_name": practice.name,
        "provider_name": entry.provider.name,
        "patient_name": entry.patient_name,
        "zone_name": entry.patient_timezone,
        "entry_url": absolute_url(reverse("waitlist:entry", args=[entry.token])),
    }


def notify_waitlist_joined(entry) -> None:
    """Tell the patient they are in line, with their link to leave it."""
    language = language_for(entry.patient_language)
    locale = babel_locale(language, entry.provider.practice.locale)
    context = _waitlist_context(entry, language) | {
        "first_day": format_date(entry.first_day, "full", locale=locale),
        "last_day": format_date(entry.last_day, "full", locale=locale),
        "claim_minutes": settings.CAREBOOK_WAITLIST_CLAIM_MINUTES,
    }
    email = render_email(
        "waitlist_joined", PATIENT, entry.patient_email, language, context
    )
    queue_email(email, dedupe_key=f"waitlist-joined:{entry.pk}")


def notify_waitlist_offer(offer) -> None:
    """Send the patient in line the time held for them and its claim link."""
    entry, booking = offer.entry, offer.booking
    language = language_for(entry.patient_language)
    locale = babel_locale(language, entry.provider.practice.locale)
    claim_day, claim_time = day_and_time(
        offer.expires_at, entry.patient_timezone, locale
    )
    context = (
        appointment_context(booking, entry.patient_timezone, language)
        | _waitlist_context(entry, language)
        | {
            "claim_url": absolute_url(reverse("waitlist:offer", args=[booking.token])),
            "claim_day": claim_day,
            "claim_time": claim_time,
        }
    )
    email = render_email(
        "waitlist_offer", PATIENT, entry.patient_email, language, context
    )
    queue_email(email, booking=booking, dedupe_key=f"waitlist-offer:{offer.pk}")
