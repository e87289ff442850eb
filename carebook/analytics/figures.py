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
from datetime import date, datetime, timedelta
from datetime import time as wall_time
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Aggregate, Count, F, FloatField, Func, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from carebook.analytics.grouping import as_date, group_by_sets
from carebook.bookings.models import Booking
from carebook.payments.models import Payment, PaymentAttempt, Refund
from carebook.practice.models import AppointmentType, Provider

# Statuses an appointment can have once its booking was made.
APPOINTMENT_STATUSES = (
    Booking.Status.CONFIRMED,
    Booking.Status.COMPLETED,
    Booking.Status.NO_SHOW,
    Booking.Status.CANCELLED,
)
PAID_STATUSES = (Payment.Status.SUCCEEDED, Payment.Status.REFUNDED)
LONGEST_RANGE_DAYS = 800

# How PostgreSQL runs the dashboard's few large reads, for its transaction
# only: the groupings of a 90-day range outgrow the default 4 MB of memory
# and would sort on disk. (Reading the ranges in parallel was measured too:
# a little faster for the whole practice, much slower for one provider.)
POSTGRESQL_SETTINGS = ("work_mem = '64MB'",)


@dataclass(frozen=True)
class FigureFilter:
    """Which bookings the figures are about: local days, and a narrowing."""

    start: date
    end: date  # inclusive
    zone: ZoneInfo
    provider_id: int | None = None
    appointment_type_id: int | None = None

    def __post_init__(self):
        if self.end < self.start:
            raise ValueError("The range ends before it starts.")
        if (self.end - self.start).days >= LONGEST_RANGE_DAYS:
            raise ValueError(f"A range is at most {LONGEST_RANGE_DAYS} days long.")

    @property
    def instants(self) -> tuple[datetime, datetime]:
        """Return the range as instants: local midnight to local midnight."""
        return (
            datetime.combine(self.start, wall_time(0), tzinfo=self.zone),
            datetime.combine(
                self.end + timedelta(days=1), wall_time(0), tzinfo=self.zone
            ),
        )

    @property
    def days(self) -> list[date]:
        return [
            self.start + timedelta(days=offset)
            for offset in range((self.end - self.start).days + 1)
        ]

    def narrow(self, prefix: str = "") -> Q:
        """Return the provider and type narrowing for a path to the booking."""
        condition = Q()
        if self.provider_id is not None:
            condition &= Q(**{f"{prefix}provider_id": self.provider_id})
        if self.appointment_type_id is not None:
            condition &= Q(**{f"{prefix}appointment_type_id": self.appointment_type_id})
        return condition

    def during(self, field_name: str) -> Q:
        low, high = self.instants
        return Q(**{f"{field_name}__gte": low, f"{field_name}__lt": high})


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

    Each query reads one range of one index (on PostgreSQL, without touching
    the table): bookings by confirmation, by appointment and by hold;
    payments and refunds by completion; tries by time.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                for setting in POSTGRESQL_SETTINGS:
                    cursor.execute(f"SET LOCAL {setting}")
        return _compute_figures(figure_filter, now or timezone.now())


def _compute_figures(figure_filter: FigureFilter, now) -> Figures:
    made = _made_bookings(figure_filter)
    made_per_day, made_per_provider, made_per_type = group_by_sets(
        made.values(
            day=_local_day("confirmed_at", figure_filter),
            provider_key=F("provider_id"),
            kind=F("appointment_type_id"),
        ),
        [("day",), ("provider_key",), ("kind",)],
        "COUNT",
    )
    days, due = _days(figure_filter, made_per_day, now)
    revenue = _revenue(figure_filter)
    return Figures(
        filter=figure_filter,
        days=days,
        **_checkouts(figure_filter),
        revenue_days=_revenue_days(figure_filter, revenue),
        providers=_providers(figure_filter, made_per_provider, revenue),
        appointment_types=_appointment_types(made_per_type),
        time_to_book=_time_to_book(made),
        payments=_payments(figure_filter),
        attendance=_attendance(days, due),
    )


def _made_bookings(figure_filter: FigureFilter):
    return Booking.objects.filter(
        figure_filter.during("confirmed_at"), figure_filter.narrow()
    ).order_by()


def _local_day(field_name: str, figure_filter: FigureFilter) -> TruncDate:
    return TruncDate(field_name, tzinfo=figure_filter.zone)


def _days(figure_filter: FigureFilter, made_per_day, now) -> tuple[list[Day], int]:
    """Return each day's bookings made and appointments, and those due."""
    days = {
        day: Day(day, appointments=dict.fromkeys(APPOINTMENT_STATUSES, 0))
        for day in figure_filter.days
    }

    for day, count in made_per_day:
        days[as_date(day)].made = count

    appointments = (
        Booking.objects.filter(
            figure_filter.during("start"),
            figure_filter.narrow(),
            confirmed_at__isnull=False,
        )
        .order_by()
        .annotate(day=_local_day("start", figure_filter))
        .values("day", "status")
        .annotate(count=Count("*"), due=Count("start", filter=Q(start__lte=now)))
        .values_list("day", "status", "count", "due")
    )
    due = 0
    for day, status, count, started in appointments:
        days[day].appointments[status] = count
        if status != Booking.Status.CANCELLED:
            due += started
    return list(days.values()), due


def _checkouts(figure_filter: FigureFilter) -> dict[str, int]:
    counts = (
        Booking.objects.filter(figure_filter.during("held_at"), figure_filter.narrow())
        # A time the waitlist holds for a patient is no checkout until the
        # patient claims it, which makes it a web booking held from then.
        .exclude(source=Booking.Source.WAITLIST)
        .order_by()
        .aggregate(
            started=Count("*"),
            # Counts the rows with a confirmation time.
            completed=Count("confirmed_at"),
        )
    )
    return {
        "checkouts_started": counts["started"],
        "checkouts_completed": counts["completed"],
    }


@dataclass(frozen=True)
class Takings:
    """Money in and out, per local day and per provider, in each currency."""

    taken_per_day: list[tuple[date, str, int]]
    taken_per_provider: list[tuple[int, str, int]]
    refunded_per_day: list[tuple[date, str, int]]
    refunded_per_provider: list[tuple[int, str, int]]


def _revenue(figure_filter: FigureFilter) -> Takings:
    taken = Payment.objects.filter(
        figure_filter.during("completed_at"),
        figure_filter.narrow(),
        status__in=PAID_STATUSES,
    )
    refunded = Refund.objects.filter(
        figure_filter.during("completed_at"),
        figure_filter.narrow(),
        status=Refund.Status.SUCCEEDED,
    )
    sets = [("day", "code"), ("provider_key", "code")]
    grouped = [
        group_by_sets(
            rows.order_by().values(
                day=_local_day("completed_at", figure_filter),
                provider_key=F("provider_id"),
                code=F("currency"),
                minor_units=F("amount"),
            ),
            sets,
            "SUM",
            "minor_units",
        )
        for rows in (taken, refunded)
    ]
    return Takings(*grouped[0], *grouped[1])


def _revenue_days(figure_filter: FigureFilter, revenue: Takings) -> list[RevenueDay]:
    by_currency = defaultdict(dict)
    for day, currency, total in revenue.taken_per_day:
        row = by_currency[currency].setdefault(
            as_date(day), RevenueDay(as_date(day), currency)
        )
        row.taken += total
    for day, currency, total in revenue.refunded_per_day:
        row = by_currency[currency].setdefault(
            as_date(day), RevenueDay(as_date(day), currency)
        )
        row.refunded += total

    rows = []
    for currency in sorted(by_currency):
        rows += [
            by_currency[currency].get(day) or RevenueDay(day, currency)
            for day in figure_filter.days
        ]
    return rows


def _providers(
    figure_filter: FigureFilter, made_per_provider, revenue: Takings
) -> list[ProviderFigures]:
    providers = Provider.objects.order_by("name")
    if figure_filter.provider_id is not None:
        providers = providers.filter(pk=figure_filter.provider_id)
    rows = {
        pk: ProviderFigures(pk, name)
        for pk, name in providers.values_list("pk", "name")
    }

    for provider_id, count in made_per_provider:
        rows[provider_id].bookings = count

    net = [
        *revenue.taken_per_provider,
        *(
            (provider_id, currency, -total)
            for provider_id, currency, total in revenue.refunded_per_provider
        ),
    ]
    for provider_id, currency, total in net:
        row_revenue = rows[provider_id].revenue
        row_revenue[currency] = row_revenue.get(currency, 0) + total

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
    """PostgreSQL's continuous percentile: interpolates between values."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, fraction: float, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)


class EpochSeconds(Func):
    template = "EXTRACT(EPOCH FROM %(expressions)s)"
    output_field = FloatField()


def _time_to_book(made) -> TimeToBook:
    timed = made.filter(picker_opened_at__isnull=False)
    if connection.vendor == "postgresql":
        waited = EpochSeconds(F("confirmed_at") - F("picker_opened_at"))
        result = timed.aggregate(
            bookings=Count("*"),
            median=Percentile(waited, 0.5),
            p90=Percentile(waited, 0.9),
        )
        median, p90 = result["median"], result["p90"]
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


def _payments(figure_filter: FigureFilter) -> PaymentFigures:
    outcomes = (
        PaymentAttempt.objects.filter(
            figure_filter.during("at"), figure_filter.narrow("payment__")
        )
        .order_by()
        .values("outcome", "decline_reason")
        .annotate(count=Count("*"))
        .values_list("outcome", "decline_reason", "count")
    )
    attempts = succeeded = 0
    declines = Counter()
    for outcome, reason, count in outcomes:
        attempts += count
        if outcome == PaymentAttempt.Outcome.SUCCEEDED:
            succeeded += count
        else:
            declines[reason or "unknown"] += count
    return PaymentFigures(
        attempts=attempts,
        succeeded=succeeded,
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
