"""Render emails from templates, in the reader's language and time zone."""

from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time, get_timezone_name
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation

from carebook.money import format_money
from carebook.notifications.outbox import Email
from carebook.web.links import booking_url

SUPPORTED_LANGUAGES = {code for code, _ in settings.LANGUAGES}


def language_for(code: str) -> str:
    """Return a language Carebook writes in, closest to `code`."""
    base = (code or "").replace("-", "_").split("_")[0].lower()
    return base if base in SUPPORTED_LANGUAGES else settings.LANGUAGE_CODE


def babel_locale(language: str, practice_locale: str) -> str:
    """Return the locale for dates and money: the practice's, if it fits."""
    if practice_locale.split("_")[0].lower() == language:
        return practice_locale
    return language


def day_and_time(instant, zone_name: str, locale: str) -> tuple[str, str]:
    """Return an instant's day and clock time in a zone, as a locale writes them."""
    local = instant.astimezone(ZoneInfo(zone_name))
    return (
        format_date(local.date(), "full", locale=locale),
        format_time(local, "short", locale=locale),
    )


def appointment_context(booking, zone_name: str, language: str) -> dict:
    """Return what every email about a booking may show, formatted.

    Nothing clinical: the provider and practice by name, the time, the
    length, the price, the reference and the private link.
    """
    practice = booking.provider.practice
    locale = babel_locale(language, practice.locale)
    day, start_time = day_and_time(booking.start, zone_name, locale)
    return {
        "booking": booking,
        "practice_name": practice.name,
        "provider_name": booking.provider.name,
        "patient_name": booking.patient_name,
        "reference": booking.reference,
        "day": day,
        "start_time": start_time,
        "end_time": day_and_time(booking.end, zone_name, locale)[1],
        "zone_name": zone_name,
        "zone_label": get_timezone_name(ZoneInfo(zone_name), locale=locale),
        "duration_minutes": booking.appointment_type.duration_minutes,
        "price": format_money(booking.price_amount, booking.currency, locale),
        "manage_url": booking_url(booking.token),
    }


def render_email(
    template: str,
    audience: str,
    recipient: str,
    language: str,
    context: dict,
    calendar: str = "",
    calendar_method: str = "",
) -> Email:
    """Render a template's subject, text and HTML bodies in `language`."""
    folder = f"notifications/{template}"
    with translation.override(language):
        subject = render_to_string(f"{folder}/subject.txt", context)
        body_text = render_to_string(f"{folder}/body.txt", context)
        body_html = render_to_string(f"{folder}/body.html", context)
    return Email(
        template=template,
        audience=audience,
        recipient=recipient,
        subject=" ".join(subject.split()),
        body_text=body_text,
        body_html=body_html,
        calendar=calendar,
        calendar_method=calendar_method,
    )
