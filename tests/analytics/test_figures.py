"""Every dashboard figure against values worked out by hand (see conftest).

Each test that reads the clinic runs twice: once counting every figure from
the rows, once with the days that have settled by "now" (Friday to Sunday)
rolled up, so Monday is counted from the rows and the rest from the roll-up.
"""

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from carebook.analytics.figures import compute_figures, percentiles
from carebook.analytics.filters import FigureFilter
from carebook.analytics.models import RolledUpDay
from carebook.analytics.rollups import roll_up_days
from tests.analytics.conftest import NOW

NEW_YORK = ZoneInfo("America/New_York")
SAT, SUN, MON = date(2026, 10, 31), date(2026, 11, 1), date(2026, 11, 2)


@pytest.fixture(params=["counted from the rows", "rolled up to Sunday"])
def clinic(request, clinic):
    if request.param == "rolled up to Sunday":
        assert roll_up_days(now=NOW) == 3
        assert sorted(RolledUpDay.objects.values_list("day", flat=True)) == [
            date(2026, 10, 30),
            SAT,
            SUN,
        ]
    return clinic


def figures_for(start=SAT, end=MON, **narrowing):
    return compute_figures(FigureFilter(start, end, NEW_YORK, **narrowing), now=NOW)


def appointments(confirmed=0, completed=0, no_show=0, cancelled=0):
    return {
        "confirmed": confirmed,
        "completed": completed,
        "no_show": no_show,
        "cancelled": cancelled,
    }


def test_bookings_are_counted_on_the_local_day_they_were_made(clinic):
    figures = figures_for()

    # Booking 2, made at 23:30 on Saturday (03:30 UTC on Sunday), counts on
    # Saturday; booking 5, made at 23:30 on the 25-hour Sunday, on Sunday.
    assert [(day.day, day.made) for day in figures.days] == [
        (SAT, 3),
        (SUN, 1),
        (MON, 1),
    ]
    assert figures.bookings_made == 5


def test_appointments_are_counted_on_their_local_day_by_status(clinic):
    figures = figures_for()

    assert [(day.day, day.appointments) for day in figures.days] == [
        (SAT, appointments(completed=1)),
        # 01:30 EDT, before the clocks went back, and 11:00 EST.
        (SUN, appointments(no_show=1, cancelled=1)),
        (MON, appointments(confirmed=2)),
    ]
    assert figures.status_totals == appointments(
        confirmed=2, completed=1, no_show=1, cancelled=1
    )


def test_the_long_sunday_holds_its_25_hours_and_no_more(clinic):
    figures = figures_for(start=SUN, end=SUN)

    assert [(day.day, day.made) for day in figures.days] == [(SUN, 1)]
    assert figures.status_totals == appointments(no_show=1, cancelled=1)
    assert [
        (row.day, row.taken, row.refunded, row.net) for row in figures.revenue_days
    ] == [(SUN, 12500, 9500, 3000)]


def test_checkouts_started_and_completed_give_the_conversion(clinic):
    figures = figures_for()

    assert (figures.checkouts_started, figures.checkouts_completed) == (8, 5)
    assert figures.conversion_rate == 0.625


def test_revenue_is_money_taken_less_refunds_on_the_days_they_happened(clinic):
    figures = figures_for()

    assert [
        (row.day, row.currency, row.taken, row.refunded, row.net)
        for row in figures.revenue_days
    ] == [
        (SAT, "USD", 24500, 0, 24500),
        (SUN, "USD", 12500, 9500, 3000),
        (MON, "USD", 0, 8000, -8000),
    ]
    total = figures.revenue_totals["USD"]
    assert (total.taken, total.refunded, total.net) == (37000, 17500, 19500)


def test_providers_are_ranked_by_bookings_and_by_revenue(clinic):
    figures = figures_for()

    assert [(row.name, row.bookings, row.revenue) for row in figures.providers] == [
        ("Dr Ada Lovelace", 3, {"USD": 4500}),
        ("Dr Grace Hopper", 2, {"USD": 15000}),
    ]
    assert [row.name for row in figures.providers_by_revenue] == [
        "Dr Grace Hopper",
        "Dr Ada Lovelace",
    ]


def test_the_mix_of_appointment_types(clinic):
    figures = figures_for()

    assert [
        (row.name, row.bookings, row.share) for row in figures.appointment_types
    ] == [("Consultation", 3, 0.6), ("Follow-up", 2, 0.4)]


def test_time_to_book_median_and_90th_percentile(clinic):
    waits = figures_for().time_to_book

    # Bookings 2, 3, 4 and 5 waited 600, 300, 60 and 1800 seconds; booking
    # 6 was made by the front desk without the slot picker.
    assert (waits.bookings, waits.median_seconds, waits.p90_seconds) == (
        4,
        450.0,
        1440.0,
    )


def test_payment_success_rate_and_declines_by_reason(clinic):
    payments = figures_for().payments

    assert (payments.attempts, payments.succeeded) == (9, 5)
    assert payments.success_rate == 0.5556
    assert payments.declines == [
        ("card_declined", 2),
        ("expired_card", 1),
        ("insufficient_funds", 1),
    ]


def test_cancellations_and_no_shows_with_their_rates(clinic):
    attendance = figures_for().attendance

    assert (attendance.appointments, attendance.cancelled) == (5, 1)
    assert attendance.cancellation_rate == 0.2
    # Bookings 1, 2 and 4 are due; booking 6 starts at 18:00 UTC, after now.
    assert (attendance.due, attendance.no_shows) == (3, 1)
    assert attendance.no_show_rate == 0.3333


def test_one_provider_narrows_every_figure(clinic):
    figures = figures_for(provider_id=clinic.ada.pk)

    assert [day.made for day in figures.days] == [1, 1, 1]
    assert figures.status_totals == appointments(confirmed=2, completed=1)
    assert [row.net for row in figures.revenue_days] == [4500, 8000, -8000]
    assert [(row.name, row.bookings) for row in figures.providers] == [
        ("Dr Ada Lovelace", 3)
    ]
    assert (figures.checkouts_started, figures.checkouts_completed) == (6, 3)
    assert (figures.payments.attempts, figures.payments.succeeded) == (5, 3)
    assert figures.time_to_book.median_seconds == 1200.0


def test_one_appointment_type_narrows_every_figure(clinic):
    figures = figures_for(appointment_type_id=clinic.consultation.pk)

    assert [day.made for day in figures.days] == [2, 1, 0]
    assert [row.net for row in figures.revenue_days] == [20000, 3000, -8000]
    assert [(row.name, row.bookings) for row in figures.appointment_types] == [
        ("Consultation", 3)
    ]
    assert figures.attendance.cancellation_rate == 0.3333


def test_a_range_with_nothing_in_it_gives_zeros_not_errors(clinic):
    figures = figures_for(start=date(2025, 1, 1), end=date(2025, 1, 2))

    assert [day.made for day in figures.days] == [0, 0]
    assert figures.revenue_days == []
    assert figures.providers == []
    assert figures.conversion_rate is None
    assert figures.payments.success_rate is None
    assert figures.time_to_book.median_seconds is None
    assert figures.attendance.no_show_rate is None


def test_percentiles_interpolate_between_values():
    assert percentiles([]) == (None, None)
    assert percentiles([42.0]) == (42.0, 42.0)
    assert percentiles([10.0, 20.0]) == (15.0, 19.0)
    assert percentiles([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0]) == (
        6.0,
        10.0,
    )


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (MON, SAT, "The range ends before it starts."),
        (date(2024, 1, 1), date(2026, 3, 11), "A range is at most 800 days long."),
    ],
)
def test_a_bad_range_is_refused(start, end, message):
    with pytest.raises(ValueError, match=message):
        FigureFilter(start, end, NEW_YORK)
