"""The owner's figures: bookings, revenue and conversion over local days.

What each figure counts (docs/dashboard.md says the same for owners):

- A booking is *made* on the day it was confirmed. Holds given up and
  checkouts never paid are not bookings; they count only as checkouts
  *started*, on the day the time was first held.
- An *appointment* is a made booking, counted on the day it takes place,
  whatever became of it since (confirmed, completed, no-show, cancelled).
- *Revenue* is money taken through Carebook on the day it was paid, less
  refunds on the day they were paid back, per currency. What patients pay
  at the desk is not in it.
- *Time to book* runs from opening the slot picker to confirmation.
- The *payment success rate* is paid tries over all tries at paying; a
  declined card counts once per try.
- The *cancellation rate* is cancelled appointments over all appointments;
  the *no-show rate* is no-shows over the appointments not cancelled whose
  time has come.

Days are the practice's local days; a filter by provider or appointment type
narrows every figure, money included.
"""

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date

from django.db import connection, transaction
from django.db.models import Aggregate, Count, DurationField, F
from django.utils import timezone

from carebook.analytics import rollups
from carebook.analytics.filters import FigureFilter
from carebook.analytics.tallies import (
    APPOINTMENT_STATUSES,
    Tally,
    count_live,
    made_bookings,
)
from carebook.bookings.models import Booking
from carebook.practice.models import AppointmentType, Provider

# How PostgreSQL runs the dashboard's few large reads, for its transaction
# only: the groupings of a 90-day range outgrow the default 4 MB of memory
# and would sort on disk. (Reading the ranges in parallel was measured too:
# a little faster for the whole practice, much slower for one provider.)
POSTGRESQL_SETTINGS = ("work_mem = '64MB'",)


@dataclass
class Day:
    day: date
    made: int = 0
    appointments: dict[str, int] = field(default_factory=dict)

    @property
    def appointment_count(self) -> int:
        return sum(self.appointments.values())


@dataclass
class RevenueDay:
    day: date
    currency: str
    taken: int = 0
    refunded: int = 0

    @property
    def net(self) -> int:
        return self.taken - self.refunded


@dataclass
class ProviderFigures:
    provider_id: int
    name: str
    bookings: int = 0
    # Net revenue per currency, in minor units.
    revenue: dict[str, int] = field(default_factory=dict)


@dataclass
class TypeShare:
    appointment_type_id: int
    name: str
    bookings: int
    share: float


@dataclass(frozen=True)
class TimeToBook:
    bookings: int
    median_seconds: float | None
    p90_seconds: float | None


@dataclass
class PaymentFigures:
    attempts: int
    succeeded: int
    declines: list[tuple[str, int]]

    @property
    def success_rate(self) -> float | None:
        return rate(self.succeeded, self.attempts)


@dataclass(frozen=True)
class AttendanceFigures:
    appointments: int
    cancelled: int
    due: int
    no_shows: int

    @property
    def cancellation_rate(self) -> float | None:
        return rate(self.cancelled, self.appointments)

    @property
    def no_show_rate(self) -> float | None:
        return rate(self.no_shows, self.due)


@dataclass
class Figures:
    filter: FigureFilter
    days: list[Day]
    checkouts_started: int
    checkouts_completed: int
    revenue_days: list[RevenueDay]
    providers: list[ProviderFigures]
    appointment_types: list[TypeShare]
    time_to_book: TimeToBook
    payments: PaymentFigures
    attendance: AttendanceFigures

    @property
    def bookings_made(self) -> int:
        return sum(day.made for day in self.days)

    @property
    def conversion_rate(self) -> float | None:
        return rate(self.checkouts_completed, self.checkouts_started)

    @property
    def status_totals(self) -> dict[str, int]:
        totals = Counter()
        for day in self.days:
            totals.update(day.appointments)
        return {status: totals[status] for status in APPOINTMENT_STATUSES}

    @property
    def revenue_totals(self) -> dict[str, RevenueDay]:
        totals = {}
        for row in self.revenue_days:
            total = totals.setdefault(
                row.currency, RevenueDay(self.filter.end, row.currency)
            )
            total.taken += row.taken
            total.refunded += row.refunded
        return totals

    @property
    def providers_by_revenue(self) -> list[ProviderFigures]:
        currencies = list(self.revenue_totals)
        return sorted(
            self.providers,
            key=lambda row: (
                [-row.revenue.get(currency, 0) for currency in currencies],
                row.name,
            ),
        )


def rate(part: int, whole: int) -> float | None:
    """Return part over whole rounded to 4 places, or None for nothing."""
    return round(part / whole, 4) if whole else None


def compute_figures(figure_filter: FigureFilter, now=None) -> Figures:
    """Return every dashboard figure for the filter's days and narrowing.

    Every figure but time to book comes from the roll-up of the days rolled
    up and from the rows of the others; time to book from the rows of the
    whole range. Each query of rows reads one range of one index (on
    PostgreSQL, without touching the table): bookings by confirmation, by
    appointment and by hold; payments and refunds by completion; tries by
    time.
    """
    is_outermost = not connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                if is_outermost:
                    # One snapshot for every read, so a day rolled up or
                    # opened again meanwhile is read one way, once.
                    cursor.execute(
                        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
                    )
                for setting in POSTGRESQL_SETTINGS:
                    cursor.execute(f"SET LOCAL {setting}")
        return _compute_figures(figure_filter, now or timezone.now())


def _compute_figures(figure_filter: FigureFilter, now) -> Figures:
    rolled_up = rollups.rolled_up_days(figure_filter, now)
    live_days = [day for day in figure_filter.days if day not in rolled_up]
    tally = count_live(figure_filter, figure_filter.spans(live_days), now)
    tally += rollups.count_rolled_up(figure_filter, rolled_up.values())

    days = _days(figure_filter, tally)
    return Figures(
        filter=figure_filter,
        days=days,
        checkouts_started=tally.checkouts_started,
        checkouts_completed=tally.checkouts_completed,
        revenue_days=_revenue_days(figure_filter, tally),
        providers=_providers(figure_filter, tally),
        appointment_types=_appointment_types(tally.made_per_type),
        time_to_book=_time_to_book(
            made_bookings(figure_filter, [figure_filter.instants])
        ),
        payments=_payments(tally),
        attendance=_attendance(days, tally.appointments_due),
    )


def _days(figure_filter: FigureFilter, tally: Tally) -> list[Day]:
    """Return each day's bookings made and appointments by status."""
    return [
        Day(
            day,
            made=tally.made_per_day[day],
            appointments={
                status: tally.appointments[day, status]
                for status in APPOINTMENT_STATUSES
            },
        )
        for day in figure_filter.days
    ]


def _revenue_days(figure_filter: FigureFilter, tally: Tally) -> list[RevenueDay]:
    by_currency = defaultdict(dict)
    for (day, currency), total in tally.taken_per_day.items():
        by_currency[currency].setdefault(day, RevenueDay(day, currency)).taken += total
    for (day, currency), total in tally.refunded_per_day.items():
        row = by_currency[currency].setdefault(day, RevenueDay(day, currency))
        row.refunded += total

    rows = []
    for currency in sorted(by_currency):
        rows += [
            by_currency[currency].get(day) or RevenueDay(day, currency)
            for day in figure_filter.days
        ]
    return rows


def _providers(figure_filter: FigureFilter, tally: Tally) -> list[ProviderFigures]:
    providers = Provider.objects.order_by("name")
    if figure_filter.provider_id is not None:
        providers = providers.filter(pk=figure_filter.provider_id)
    rows = {
        pk: ProviderFigures(pk, name)
        for pk, name in providers.values_list("pk", "name")
    }

    for provider_id, count in tally.made_per_provider.items():
        rows[provider_id].bookings = count

    net = Counter(tally.taken_per_provider)
    net.subtract(tally.refunded_per_provider)
    for (provider_id, currency), total in net.items():
        rows[provider_id].revenue[currency] = total

    ranked = [row for row in rows.values() if row.bookings or row.revenue]
    return sorted(ranked, key=lambda row: (-row.bookings, row.name))


def _appointment_types(made_per_type) -> list[TypeShare]:
    counts = dict(made_per_type)
    total = sum(counts.values())
    names = dict(
        AppointmentType.objects.filter(pk__in=counts).values_list("pk", "name")
    )
    shares = [
        TypeShare(type_id, names[type_id], count, rate(count, total))
        for type_id, count in counts.items()
    ]
    return sorted(shares, key=lambda share: (-share.bookings, share.name))


class Percentile(Aggregate):
    """PostgreSQL's continuous percentile of waits: interpolates between them."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    # Intervals sort faster than the numbers EXTRACT gives, and interpolate
    # to the microsecond.
    output_field = DurationField()

    def __init__(self, expression, fraction: float, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)


def _time_to_book(made) -> TimeToBook:
    timed = made.filter(picker_opened_at__isnull=False)
    if connection.vendor == "postgresql":
        waited = F("confirmed_at") - F("picker_opened_at")
        result = timed.aggregate(
            bookings=Count("*"),
            median=Percentile(waited, 0.5),
            p90=Percentile(waited, 0.9),
        )
        median, p90 = (
            None if result[name] is None else result[name].total_seconds()
            for name in ("median", "p90")
        )
        bookings = result["bookings"]
    else:
        waits = [
            (confirmed - opened).total_seconds()
            for opened, confirmed in timed.values_list(
                "picker_opened_at", "confirmed_at"
            )
        ]
        bookings, (median, p90) = len(waits), percentiles(waits)
    # To a tenth of a second, so both databases' arithmetic agree.
    return TimeToBook(bookings, _tenths(median), _tenths(p90))


def _tenths(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 1)


def percentiles(values: list[float]) -> tuple[float | None, float | None]:
    """Return the median and 90th percentile, interpolated like PostgreSQL's."""
    if not values:
        return None, None
    if len(values) == 1:
        return values[0], values[0]
    deciles = statistics.quantiles(values, n=10, method="inclusive")
    return statistics.median(values), deciles[8]


def _payments(tally: Tally) -> PaymentFigures:
    declines = Counter()
    for reason, count in tally.declines.items():
        declines[reason or "unknown"] += count
    return PaymentFigures(
        attempts=tally.tries,
        succeeded=tally.tries_succeeded,
        declines=sorted(declines.items(), key=lambda item: (-item[1], item[0])),
    )


def _attendance(days: list[Day], due: int) -> AttendanceFigures:
    totals = Counter()
    for day in days:
        totals.update(day.appointments)
    return AttendanceFigures(
        appointments=sum(totals.values()),
        cancelled=totals[Booking.Status.CANCELLED],
        due=due,
        no_shows=totals[Booking.Status.NO_SHOW],
    )
