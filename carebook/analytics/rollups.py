"""Roll up past days' figures, and read them back for a range.

A day is rolled up, in the practice's zone, once it has been over for
ROLLUP_DELAY (so a change still being committed at midnight is in) and no
checkout started on it is still open. Money and tries are filed under the
instant they happened, so they never change for a past day. A booking can:
staff mark an appointment completed or no-show after its day, and a lapsed
hold paid late completes a checkout of the day it was held. So every save
of a booking that changes what a past day counts of it drops that day's
roll-up in the same transaction (`note_counted_state` before the save,
`reopen_changed_days` after), and the next run rolls the day up again.

On PostgreSQL a run holds a lock on the roll-up table that a reopening
waits for, so a change never lands between a run's reading and its
writing; SQLite's IMMEDIATE transactions serialize the two anyway.
"""

import logging
import operator
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from functools import reduce
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import F, Min, Q
from django.utils import timezone

from carebook.analytics.filters import FigureFilter
from carebook.analytics.grouping import as_date, group_by_sets
from carebook.analytics.models import DayCounts, DayDeclines, DayTakings, RolledUpDay
from carebook.analytics.tallies import (
    APPOINTMENT_STATUSES,
    Tally,
    appointment_rows,
    checkout_rows,
    made_rows,
    refunded_rows,
    taken_rows,
    try_rows,
)
from carebook.bookings.models import Booking
from carebook.payments.models import PaymentAttempt
from carebook.practice.models import Practice
from carebook.scheduling.availability import local_days
from carebook.timezones import local_date

logger = logging.getLogger(__name__)

ROLLUP_DELAY = timedelta(hours=1)
# A booking's instant this recent is on no rolled-up day, nor on one a run
# now reading could roll up, unless the change takes this long to commit.
UNROLLED_WINDOW = ROLLUP_DELAY / 2
# The most days rolled up in one transaction.
CHUNK_DAYS = 31
OPEN_CHECKOUT_STATUSES = (Booking.Status.HELD, Booking.Status.PENDING_PAYMENT)
CELL = ("day", "provider_key", "kind")

# What the figures count of a booking, by the instant each is filed under
# (first) and what else decides whether and where it counts.
COUNTED_ON = {
    "made": ("confirmed_at", "provider_id", "appointment_type_id"),
    "checkouts": (
        "held_at",
        "confirmed_at",
        "source",
        "provider_id",
        "appointment_type_id",
    ),
    "appointments": (
        "start",
        "status",
        "confirmed_at",
        "provider_id",
        "appointment_type_id",
    ),
}
COUNTED_FIELDS = sorted({name for fields in COUNTED_ON.values() for name in fields})


def roll_up_days(now: datetime | None = None) -> int:
    """Roll up every settled day not rolled up yet; return how many were.

    Roll-ups in another zone than the practice's (its zone was changed)
    are dropped.
    """
    now = now or timezone.now()
    practice = Practice.objects.first()
    if practice is None:
        return 0
    zone_name = practice.timezone
    RolledUpDay.objects.exclude(zone=zone_name).delete()

    rolled = 0
    for chunk in _chunks(_days_to_roll_up(zone_name, now)):
        with transaction.atomic():
            _lock_rollups()
            # Under the lock: another run may have rolled some up meanwhile,
            # or a checkout may have opened again.
            chunk = _still_to_roll_up(zone_name, chunk)
            if chunk:
                _write_days(zone_name, chunk, now)
                rolled += len(chunk)
    if rolled:
        logger.info("Rolled up %s days of figures", rolled)
    return rolled


def note_counted_state(sender, instance: Booking, **kwargs) -> None:
    """Before a booking is saved, note what the figures counted of it."""
    instance._counted_before = (
        Booking.objects.filter(pk=instance.pk).values(*COUNTED_FIELDS).first()
        if instance.pk is not None
        else None
    )


def reopen_changed_days(sender, instance: Booking, **kwargs) -> None:
    """After a booking is saved, drop the roll-up of each day it changed.

    Fixtures loaded with `loaddata` are saved through here too.
    """
    before = getattr(instance, "_counted_before", None)
    after = {name: getattr(instance, name) for name in COUNTED_FIELDS}
    instants = set()
    for fields in COUNTED_ON.values():
        changed = before is None or any(before[name] != after[name] for name in fields)
        if changed:
            instants |= {
                state[fields[0]]
                for state in (before, after)
                if state is not None and state[fields[0]] is not None
            }
    _reopen_days_of(instants)


def _reopen_days_of(instants: set[datetime]) -> None:
    recent = timezone.now() - UNROLLED_WINDOW
    instants = [instant for instant in instants if instant < recent]
    if not instants:
        return
    on_those_days = reduce(
        operator.or_,
        (Q(starts_at__lte=instant, ends_at__gt=instant) for instant in instants),
    )
    # In the change's transaction, or just after it for a change saved
    # outside one.
    with transaction.atomic():
        # Taken before looking, so a run that has counted the day without
        # this change but not committed yet is waited for, and its day found.
        _lock_rollups("ROW EXCLUSIVE")
        reopened = _deleted_days(RolledUpDay.objects.filter(on_those_days))
    if reopened:
        logger.info("Reopened the figures of %s days for a changed booking", reopened)


def drop_rollups() -> int:
    """Drop every roll-up, to count all days again; return how many days."""
    with transaction.atomic():
        _lock_rollups()
        return _deleted_days(RolledUpDay.objects.all())


def rolled_up_days(figure_filter, now: datetime) -> dict[date, int]:
    """Return the filter's days that are rolled up, with their ids.

    A day counts as rolled up only once it is over by `now`, so the
    appointments it holds are all due.
    """
    return dict(
        RolledUpDay.objects.filter(
            zone=figure_filter.zone.key,
            day__gte=figure_filter.start,
            day__lte=figure_filter.end,
            ends_at__lte=now,
        ).values_list("day", "pk")
    )


def count_rolled_up(figure_filter, rolled_day_ids: Iterable[int]) -> Tally:
    """Return the tally of rolled-up days, narrowed like the filter."""
    tally = Tally()
    rolled_day_ids = list(rolled_day_ids)
    if not rolled_day_ids:
        return tally

    def cells(model):
        return (
            model.objects.filter(rolled_day__in=rolled_day_ids)
            .filter(figure_filter.narrow())
            .order_by()
        )

    _read_counts(tally, cells(DayCounts))
    _read_takings(tally, cells(DayTakings))
    [declines] = group_by_sets(
        cells(DayDeclines).values("tries", "reason"), [("reason",)], [("SUM", "tries")]
    )
    _add_counts(tally.declines, declines)
    return tally


def _read_counts(tally: Tally, cells) -> None:
    counted = ("made", "checkouts_started", "checkouts_completed", "tries")
    counted += ("tries_succeeded", *APPOINTMENT_STATUSES)
    per_day, per_provider, per_type, [totals] = group_by_sets(
        cells.values(
            *counted,
            day=F("rolled_day__day"),
            provider_key=F("provider_id"),
            kind=F("appointment_type_id"),
        ),
        [("day",), ("provider_key",), ("kind",), ()],
        [("SUM", name) for name in counted],
    )
    _add_counts(tally.made_per_day, ((as_date(day), made) for day, made, *_ in per_day))
    _add_counts(tally.made_per_provider, ((pk, made) for pk, made, *_ in per_provider))
    _add_counts(tally.made_per_type, ((pk, made) for pk, made, *_ in per_type))
    _, started, completed, tries, succeeded, *_ = (int(total or 0) for total in totals)
    tally.checkouts_started, tally.checkouts_completed = started, completed
    tally.tries, tally.tries_succeeded = tries, succeeded

    for day, *sums in per_day:
        by_status = zip(
            APPOINTMENT_STATUSES, sums[-len(APPOINTMENT_STATUSES) :], strict=True
        )
        _add_counts(
            tally.appointments,
            (((as_date(day), status), count) for status, count in by_status),
        )
    # Every appointment of a day that is over is due.
    tally.appointments_due = sum(
        count
        for (_, status), count in tally.appointments.items()
        if status != Booking.Status.CANCELLED
    )


def _read_takings(tally: Tally, cells) -> None:
    by_day, by_provider = group_by_sets(
        cells.values(
            "taken",
            "refunded",
            day=F("rolled_day__day"),
            provider_key=F("provider_id"),
            code=F("currency"),
        ),
        [("day", "code"), ("provider_key", "code")],
        [("SUM", "taken"), ("SUM", "refunded")],
    )
    for day, code, taken, refunded in by_day:
        _add_counts(tally.taken_per_day, [((as_date(day), code), taken)])
        _add_counts(tally.refunded_per_day, [((as_date(day), code), refunded)])
    for pk, code, taken, refunded in by_provider:
        _add_counts(tally.taken_per_provider, [((pk, code), taken)])
        _add_counts(tally.refunded_per_provider, [((pk, code), refunded)])


def _deleted_days(rolled_up_days) -> int:
    _, per_model = rolled_up_days.delete()
    return per_model.get(RolledUpDay._meta.label, 0)


def _add_counts(counter, pairs) -> None:
    # Sums come back as Decimal from PostgreSQL; a zero is no entry, as in
    # a tally counted from the rows themselves.
    for key, total in pairs:
        if total:
            counter[key] += int(total)


def _days_to_roll_up(zone_name: str, now: datetime) -> list[date]:
    """Return the settled days from the first booking on, not rolled up."""
    first_held = Booking.objects.aggregate(first=Min("held_at"))["first"]
    if first_held is None:
        return []
    first_day = local_date(zone_name, first_held)
    last_day = local_date(zone_name, now - ROLLUP_DELAY) - timedelta(days=1)
    days = [
        first_day + timedelta(days=offset)
        for offset in range((last_day - first_day).days + 1)
    ]
    return _still_to_roll_up(zone_name, days)


def _still_to_roll_up(zone_name: str, days: list[date]) -> list[date]:
    """Return the days, in order, not rolled up and with no open checkout."""
    if not days:
        return []
    done = set(
        RolledUpDay.objects.filter(
            zone=zone_name, day__gte=days[0], day__lte=days[-1]
        ).values_list("day", flat=True)
    )
    open_checkouts = {
        local_date(zone_name, held_at)
        for held_at in Booking.objects.filter(status__in=OPEN_CHECKOUT_STATUSES)
        .exclude(source=Booking.Source.WAITLIST)
        .values_list("held_at", flat=True)
    }
    return [day for day in days if day not in done and day not in open_checkouts]


def _chunks(days: list[date]) -> Iterable[list[date]]:
    """Yield runs of consecutive days, each at most CHUNK_DAYS long.

    Days to roll up need not follow each other: a day opened again may lie
    years before the newest.
    """
    chunk = []
    for day in days:
        if chunk and (day - chunk[-1] != timedelta(days=1) or len(chunk) == CHUNK_DAYS):
            yield chunk
            chunk = []
        chunk.append(day)
    if chunk:
        yield chunk


def _lock_rollups(mode: str = "SHARE ROW EXCLUSIVE") -> None:
    """Lock the roll-ups on PostgreSQL until the transaction ends.

    A run takes SHARE ROW EXCLUSIVE, which waits for and holds off another
    run and every reopening (ROW EXCLUSIVE), but not the figures' reading.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {RolledUpDay._meta.db_table} IN {mode} MODE")


def _write_days(zone_name: str, days: list[date], now: datetime) -> None:
    """Count the days from the rows and store them, with their markers."""
    markers = {}
    for day in days:
        instants = local_days(day, day, zone_name)
        markers[day] = RolledUpDay(
            zone=zone_name,
            day=day,
            starts_at=instants.start,
            ends_at=instants.end,
            rolled_up_at=now,
        )
    RolledUpDay.objects.bulk_create(markers.values())

    figure_filter = FigureFilter(days[0], days[-1], ZoneInfo(zone_name))
    spans = figure_filter.spans(days)
    counts, declines = _count_cells(figure_filter, spans, markers, now)
    takings = _sum_cells(figure_filter, spans, markers)
    DayCounts.objects.bulk_create(counts, batch_size=2000)
    DayTakings.objects.bulk_create(takings, batch_size=2000)
    DayDeclines.objects.bulk_create(declines, batch_size=2000)


def _count_cells(figure_filter, spans, markers, now):
    """Return the days' DayCounts and DayDeclines rows, not saved yet."""
    counts = {}

    def cell(day, provider_id, kind_id) -> DayCounts:
        key = (as_date(day), provider_id, kind_id)
        if key not in counts:
            counts[key] = DayCounts(
                rolled_day=markers[key[0]],
                provider_id=provider_id,
                appointment_type_id=kind_id,
            )
        return counts[key]

    [made] = group_by_sets(made_rows(figure_filter, spans), [CELL], [("COUNT", "*")])
    for day, provider_id, kind_id, count in made:
        cell(day, provider_id, kind_id).made = count

    [checkouts] = group_by_sets(
        checkout_rows(figure_filter, spans),
        [CELL],
        [("COUNT", "*"), ("COUNT", "confirmed")],
    )
    for day, provider_id, kind_id, started, completed in checkouts:
        row = cell(day, provider_id, kind_id)
        row.checkouts_started, row.checkouts_completed = started, completed

    [appointments] = group_by_sets(
        appointment_rows(figure_filter, spans, now),
        [(*CELL, "status")],
        [("COUNT", "*")],
    )
    for day, provider_id, kind_id, status, count in appointments:
        setattr(cell(day, provider_id, kind_id), status, count)

    declines = []
    [tries] = group_by_sets(
        try_rows(figure_filter, spans), [(*CELL, "outcome", "reason")], [("COUNT", "*")]
    )
    for day, provider_id, kind_id, outcome, reason, count in tries:
        row = cell(day, provider_id, kind_id)
        row.tries += count
        if outcome == PaymentAttempt.Outcome.SUCCEEDED:
            row.tries_succeeded += count
            continue
        declines.append(
            DayDeclines(
                rolled_day=markers[as_date(day)],
                provider_id=provider_id,
                appointment_type_id=kind_id,
                reason=reason,
                tries=count,
            )
        )
    return list(counts.values()), declines


def _sum_cells(figure_filter, spans, markers) -> list[DayTakings]:
    """Return the days' DayTakings rows, not saved yet."""
    takings = {}
    for rows, name in ((taken_rows, "taken"), (refunded_rows, "refunded")):
        [sums] = group_by_sets(
            rows(figure_filter, spans), [(*CELL, "code")], [("SUM", "minor_units")]
        )
        for day, provider_id, kind_id, code, total in sums:
            key = (as_date(day), provider_id, kind_id, code)
            if key not in takings:
                takings[key] = DayTakings(
                    rolled_day=markers[key[0]],
                    provider_id=provider_id,
                    appointment_type_id=kind_id,
                    currency=code,
                )
            setattr(takings[key], name, int(total))
    return list(takings.values())
