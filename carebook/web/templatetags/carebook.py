"""Template filters that show times and money the way people read them."""

from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time, get_timezone_name
from django import template

from carebook.money import format_money
from carebook.timezones import is_zone

register = template.Library()


@register.filter
def local_time(instant, zone_name: str) -> str:
    """Return the clock time of an instant in a zone, as '09:30'."""
    return format_time(instant.astimezone(ZoneInfo(zone_name)), "HH:mm")


@register.filter
def local_day(instant, zone_name: str) -> str:
    """Return the day of an instant in a zone, as 'Monday 7 December 2026'."""
    return format_date(
        instant.astimezone(ZoneInfo(zone_name)).date(), "EEEE d MMMM y", locale="en"
    )


@register.filter
def zone_label(zone_name: str) -> str:
    """Return a zone's IANA name with its common name, for people to read.

    A name that is not a zone (a form's refused input, shown again) is
    returned as it is.
    """
    if not is_zone(zone_name) or zone_name in ("UTC", "Etc/UTC"):
        return zone_name
    common = get_timezone_name(ZoneInfo(zone_name), locale="en")
    return f"{zone_name} ({common})"


@register.simple_tag(takes_context=True)
def money(context, amount: int, currency: str, fallback_locale: str = "en") -> str:
    """Return an amount in minor units formatted for the reader.

    The reader's browser locale wins; `fallback_locale` (the practice's)
    serves when the browser names none.
    """
    locale = context.get("patient_locale") or fallback_locale
    return format_money(amount, currency, locale)
