"""The data behind the dashboard's charts, drawn in the browser by plotly.js.

plotly.js comes from the plotly package on PyPI (see staticfiles.py), so
the page loads nothing from outside Carebook.
"""

from carebook.analytics.figures import APPOINTMENT_STATUSES, Figures
from carebook.analytics.templatetags.figures import words
from carebook.money import to_decimal

# Enough bars to read; the tables below the charts list every provider.
TOP_PROVIDERS = 15


def chart_data(figures: Figures) -> dict:
    """Return plain lists the page's script turns into charts."""
    days = [day.day.isoformat() for day in figures.days]
    by_revenue = figures.providers_by_revenue[:TOP_PROVIDERS]
    currencies = list(figures.revenue_totals)
    first_currency = currencies[0] if currencies else None
    return {
        "days": days,
        "made": [day.made for day in figures.days],
        "appointments": {
            status: [day.appointments[status] for day in figures.days]
            for status in APPOINTMENT_STATUSES
        },
        "revenue": {
            currency: [
                float(to_decimal(row.net, currency))
                for row in figures.revenue_days
                if row.currency == currency
            ]
            for currency in currencies
        },
        "providers_by_bookings": {
            "names": [row.name for row in figures.providers[:TOP_PROVIDERS]],
            "values": [row.bookings for row in figures.providers[:TOP_PROVIDERS]],
        },
        "providers_by_revenue": {
            "currency": first_currency,
            "names": [row.name for row in by_revenue],
            "values": [
                float(to_decimal(row.revenue.get(first_currency, 0), first_currency))
                for row in by_revenue
            ]
            if first_currency
            else [],
        },
        "appointment_types": {
            "names": [row.name for row in figures.appointment_types],
            "values": [row.bookings for row in figures.appointment_types],
        },
        "declines": {
            "names": [words(reason) for reason, _ in figures.payments.declines],
            "values": [count for _, count in figures.payments.declines],
        },
    }
