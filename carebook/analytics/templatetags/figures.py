"""Filters that show the dashboard's figures the way owners read them."""

from babel.numbers import format_percent
from django import template

from carebook.money import format_money

register = template.Library()


@register.filter
def percent(value: float | None, locale: str = "en") -> str:
    """Return a rate as a percentage with one decimal, or a dash for none."""
    if value is None:
        return "–"
    return format_percent(value, "#,##0.0%", locale=locale)


@register.filter
def duration(seconds: float | None) -> str:
    """Return seconds as '4.6 s', '4 min 05 s' or '1 h 02 min', or a dash."""
    if seconds is None:
        return "–"
    if seconds < 59.95:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s"


@register.filter
def words(code: str) -> str:
    """Return a code such as 'card_declined' as words: 'card declined'."""
    return code.replace("_", " ")


@register.simple_tag
def amount(minor_units: int, currency: str, locale: str) -> str:
    """Return an amount in minor units in the practice's locale."""
    return format_money(minor_units, currency, locale)


@register.filter
def get(mapping: dict, key):
    return mapping.get(key, 0)
