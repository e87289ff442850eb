"""The dashboard's figures and bookings as CSV tables.

Amounts are decimal strings with the currency's own digits; days are the
practice's local days; times are the practice's local wall time with its
offset. A cell that a spreadsheet would run as a formula is prefixed with
an apostrophe.
"""

import csv
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from io import StringIO

from carebook.analytics.figures import APPOINTMENT_STATUSES, Figures
from carebook.analytics.filters import FigureFilter
from carebook.analytics.tallies import appointments
from carebook.money import decimal_string

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str:
    """Return a value as text that no spreadsheet runs as a formula.

    Numbers, negative ones included, stay as they are.
    """
    text = "" if value is None else str(value)
    if not text.startswith(FORMULA_STARTS) or _is_number(text):
        return text
    return "'" + text


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except InvalidOperation:
        return False
    return text.strip() == text


def write_rows(rows: Iterator[list]) -> Iterator[str]:
    """Yield CSV text a row at a time, for a streamed download."""
    buffer = StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([safe_cell(value) for value in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def day_rows(figures: Figures) -> Iterator[list]:
    yield ["day", "bookings_made", "appointments", *APPOINTMENT_STATUSES]
    for day in figures.days:
        counts = [day.appointments[status] for status in APPOINTMENT_STATUSES]
        yield [day.day.isoformat(), day.made, day.appointment_count, *counts]


def revenue_rows(figures: Figures) -> Iterator[list]:
    yield ["day", "currency", "taken", "refunded", "net"]
    for row in figures.revenue_days:
        yield [
            row.day.isoformat(),
            row.currency,
            decimal_string(row.taken, row.currency),
            decimal_string(row.refunded, row.currency),
            decimal_string(row.net, row.currency),
        ]


def provider_rows(figures: Figures) -> Iterator[list]:
    yield ["provider", "bookings", "currency", "net_revenue"]
    for row in figures.providers:
        revenue = sorted(row.revenue.items()) or [("", None)]
        for currency, amount in revenue:
            shown = decimal_string(amount, currency) if currency else ""
            yield [row.name, row.bookings, currency, shown]


def appointment_type_rows(figures: Figures) -> Iterator[list]:
    yield ["appointment_type", "bookings", "share"]
    for row in figures.appointment_types:
        yield [row.name, row.bookings, row.share]


def summary_rows(figures: Figures) -> Iterator[list]:
    attendance = figures.attendance
    waits = figures.time_to_book
    yield ["figure", "value"]
    yield ["from", figures.filter.start.isoformat()]
    yield ["to", figures.filter.end.isoformat()]
    yield ["bookings_made", figures.bookings_made]
    yield ["checkouts_started", figures.checkouts_started]
    yield ["checkouts_completed", figures.checkouts_completed]
    yield ["conversion_rate", figures.conversion_rate]
    for currency, total in figures.revenue_totals.items():
        yield [f"net_revenue_{currency}", decimal_string(total.net, currency)]
    yield ["time_to_book_bookings", waits.bookings]
    yield ["time_to_book_median_seconds", waits.median_seconds]
    yield ["time_to_book_p90_seconds", waits.p90_seconds]
    yield ["payment_attempts", figures.payments.attempts]
    yield ["payments_succeeded", figures.payments.succeeded]
    yield ["payment_success_rate", figures.payments.success_rate]
    for reason, count in figures.payments.declines:
        yield [f"declined_{reason}", count]
    yield ["appointments", attendance.appointments]
    yield ["cancelled", attendance.cancelled]
    yield ["cancellation_rate", attendance.cancellation_rate]
    yield ["appointments_due", attendance.due]
    yield ["no_shows", attendance.no_shows]
    yield ["no_show_rate", attendance.no_show_rate]


def booking_rows(figure_filter: FigureFilter) -> Iterator[list]:
    """Yield every made booking whose appointment falls in the range."""
    bookings = (
        appointments(figure_filter, [figure_filter.instants])
        .select_related("provider", "appointment_type")
        .order_by("start", "pk")
    )
    zone = figure_filter.zone
    yield [
        "reference",
        "status",
        "start",
        "end",
        "provider",
        "appointment_type",
        "price",
        "currency",
        "patient_name",
        "patient_email",
        "patient_phone",
        "source",
        "confirmed_at",
    ]
    for booking in bookings.iterator(chunk_size=2000):
        yield [
            booking.reference,
            booking.status,
            booking.start.astimezone(zone).isoformat(),
            booking.end.astimezone(zone).isoformat(),
            booking.provider.name,
            booking.appointment_type.name,
            decimal_string(booking.price_amount, booking.currency),
            booking.currency,
            booking.patient_name,
            booking.patient_email,
            booking.patient_phone,
            booking.source,
            booking.confirmed_at.astimezone(zone).isoformat(),
        ]


FIGURE_TABLES = {
    "summary": summary_rows,
    "days": day_rows,
    "revenue": revenue_rows,
    "providers": provider_rows,
    "appointment-types": appointment_type_rows,
}
