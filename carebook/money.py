"""Exact money: integer amounts in a currency's minor unit.

A currency's number of decimal digits comes from Babel's copy of the CLDR
data, so zero-decimal currencies such as JPY and KRW need no special case.
"""

from decimal import Decimal

from babel.numbers import format_currency, get_currency_precision, list_currencies


def is_known_currency(code: str) -> bool:
    """Return whether `code` is an ISO 4217 currency code Babel knows."""
    return code in list_currencies()


def minor_digits(currency: str) -> int:
    """Return how many decimal digits the currency's minor unit has."""
    return get_currency_precision(currency)


def to_decimal(amount: int, currency: str) -> Decimal:
    """Return the minor-unit amount as a Decimal in major units."""
    return Decimal(amount).scaleb(-minor_digits(currency))


def decimal_string(amount: int, currency: str) -> str:
    """Return the amount as text with the currency's own digits ("80.00")."""
    digits = minor_digits(currency)
    return f"{to_decimal(amount, currency):.{digits}f}"


def to_minor_units(value: Decimal | int | str, currency: str) -> int:
    """Return a major-unit amount as minor units, refusing extra precision."""
    scaled = Decimal(str(value)).scaleb(minor_digits(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(
            f"{value} has more decimal digits than {currency} allows "
            f"({minor_digits(currency)})"
        )
    return int(scaled)


def format_money(amount: int, currency: str, locale: str) -> str:
    """Return the amount formatted for people reading `locale`."""
    return format_currency(to_decimal(amount, currency), currency, locale=locale)
