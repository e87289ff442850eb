"""Which rows each of the dashboard's counts and sums reads, and their tally.

The figures of bookings made, checkouts, money, tries at paying and
appointments add up over days, so a range's figures are the sum of its
days'. They are counted straight from the bookings and payments of the days
not rolled up (`count_live`) and read from the roll-up tables for the
others (carebook/analytics/rollups.py), which are filled from the same rows
grouped by day, provider and type. The percentiles of time to book are no
sum of days and are not tallied here.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Case, F, Value, When
from django.db.models.functions import TruncDate

from carebook.analytics.filters import Spans, during
from carebook.analytics.grouping import as_date, group_by_sets
from carebook.bookings.models import Booking
from carebook.payments.models import Payment, PaymentAttempt, Refund

PAID_STATUSES = (Payment.Status.SUCCEEDED, Payment.Status.REFUNDED)
# Statuses an appointment can have once its booking was made.
APPOINTMENT_STATUSES = (
    Booking.Status.CONFIRMED,
    Booking.Status.COMPLETED,
    Booking.Status.NO_SHOW,
    Booking.Status.CANCELLED,
)


@dataclass
class Tally:
    """Counts and sums over some days; money in minor units per currency."""

    made_per_day: Counter = field(default_factory=Counter)
    made_per_provider: Counter = field(default_factory=Counter)
    made_per_type: Counter = field(default_factory=Counter)
    checkouts_started: int = 0
    checkouts_completed: int = 0
    # Keyed by (day, currency) and by (provider id, currency).
    taken_per_day: Counter = field(default_factory=Counter)
    taken_per_provider: Counter = field(default_factory=Counter)
    refunded_per_day: Counter = field(default_factory=Counter)
    refunded_per_provider: Counter = field(default_factory=Counter)
    tries: int = 0
    tries_succeeded: int = 0
    # Keyed by the gateway's reason, "" when it gave none.
    declines: Counter = field(default_factory=Counter)
    # Keyed by (day, status); `appointments_due` counts those not cancelled
    # whose start has passed.
    appointments: Counter = field(default_factory=Counter)
    appointments_due: int = 0

    def __add__(self, other: "Tally") -> "Tally":
        total = Tally()
        for tally in (self, other):
            for name, value in vars(tally).items():
                if isinstance(value, Counter):
                    getattr(total, name).update(value)
                else:
                    setattr(total, name, getattr(total, name) + value)
        return total


def local_day(field_name: str, figure_filter) -> TruncDate:
    return TruncDate(field_name, tzinfo=figure_filter.zone)


# Each of the following returns a values() queryset with the columns `day`
# (the local day it counts on), `provider_key` and `kind` (the appointment
# type), and the columns its figure counts or sums.


def made_bookings(figure_filter, spans: Spans):
    """Return the bookings made (confirmed) in the spans."""
    return Booking.objects.filter(
        during("confirmed_at", spans), figure_filter.narrow()
    ).order_by()


def appointments(figure_filter, spans: Spans):
    """Return the bookings made whose appointment starts in the spans."""
    return Booking.objects.filter(
        during("start", spans), figure_filter.narrow(), confirmed_at__isnull=False
    ).order_by()


def made_rows(figure_filter, spans: Spans):
    """Return the bookings made, on the day they were confirmed."""
    return made_bookings(figure_filter, spans).values(
        day=local_day("confirmed_at", figure_filter),
        provider_key=F("provider_id"),
        kind=F("appointment_type_id"),
    )


def checkout_rows(figure_filter, spans: Spans):
    """Return the checkouts started, on the day the time was first held.

    `confirmed` is the confirmation time of the checkouts completed.
    """
    return (
        Booking.objects.filter(during("held_at", spans), figure_filter.narrow())
        # A time the waitlist holds for a patient is no checkout until the
        # patient claims it, which makes it a web booking held from then.
        .exclude(source=Booking.Source.WAITLIST)
        .order_by()
        .values(
            day=local_day("held_at", figure_filter),
            provider_key=F("provider_id"),
            kind=F("appointment_type_id"),
            confirmed=F("confirmed_at"),
        )
    )


def taken_rows(figure_filter, spans: Spans):
    """Return the money taken, on the day it was paid."""
    return _money_rows(
        Payment.objects.filter(status__in=PAID_STATUSES), figure_filter, spans
    )


def refunded_rows(figure_filter, spans: Spans):
    """Return the money refunded, on the day it was paid back."""
    return _money_rows(
        Refund.objects.filter(status=Refund.Status.SUCCEEDED), figure_filter, spans
    )


def _money_rows(rows, figure_filter, spans: Spans):
    return (
        rows.filter(during("completed_at", spans), figure_filter.narrow())
        .order_by()
        .values(
            day=local_day("completed_at", figure_filter),
            provider_key=F("provider_id"),
            kind=F("appointment_type_id"),
            code=F("currency"),
            minor_units=F("amount"),
        )
    )


def appointment_rows(figure_filter, spans: Spans, now: datetime):
    """Return the bookings made, on the day they take place, by status.

    `due` is 1 for an appointment whose start has passed by `now`.
    """
    return appointments(figure_filter, spans).values(
        "status",
        day=local_day("start", figure_filter),
        provider_key=F("provider_id"),
        kind=F("appointment_type_id"),
        due=Case(When(start__lte=now, then=Value(1)), default=Value(0)),
    )


def try_rows(figure_filter, spans: Spans):
    """Return the tries at paying, on the day they were made."""
    return (
        PaymentAttempt.objects.filter(during("at", spans), figure_filter.narrow())
        .order_by()
        .values(
            "outcome",
            day=local_day("at", figure_filter),
            provider_key=F("provider_id"),
            kind=F("appointment_type_id"),
            reason=F("decline_reason"),
        )
    )


def count_live(figure_filter, spans: Spans, now: datetime) -> Tally:
    """Return the tally of the spans, counted from bookings and payments."""
    tally = Tally()
    if not spans:
        return tally

    per_day, per_provider, per_type = group_by_sets(
        made_rows(figure_filter, spans),
        [("day",), ("provider_key",), ("kind",)],
        [("COUNT", "*")],
    )
    tally.made_per_day.update({as_date(day): count for day, count in per_day})
    tally.made_per_provider.update(dict(per_provider))
    tally.made_per_type.update(dict(per_type))

    [(started, completed)] = group_by_sets(
        checkout_rows(figure_filter, spans),
        [()],
        [("COUNT", "*"), ("COUNT", "confirmed")],
    )[0]
    tally.checkouts_started, tally.checkouts_completed = started, completed

    for rows, per_day, per_provider in (
        (taken_rows, tally.taken_per_day, tally.taken_per_provider),
        (refunded_rows, tally.refunded_per_day, tally.refunded_per_provider),
    ):
        by_day, by_provider = group_by_sets(
            rows(figure_filter, spans),
            [("day", "code"), ("provider_key", "code")],
            [("SUM", "minor_units")],
        )
        per_day.update({(as_date(day), code): total for day, code, total in by_day})
        per_provider.update({(pk, code): total for pk, code, total in by_provider})

    [outcomes] = group_by_sets(
        try_rows(figure_filter, spans), [("outcome", "reason")], [("COUNT", "*")]
    )
    for outcome, reason, count in outcomes:
        tally.tries += count
        if outcome == PaymentAttempt.Outcome.SUCCEEDED:
            tally.tries_succeeded += count
        else:
            tally.declines[reason] += count

    [appointments] = group_by_sets(
        appointment_rows(figure_filter, spans, now),
        [("day", "status")],
        [("COUNT", "*"), ("SUM", "due")],
    )
    for day, status, count, due in appointments:
        tally.appointments[as_date(day), status] += count
        if status != Booking.Status.CANCELLED:
            tally.appointments_due += int(due)
    return tally
