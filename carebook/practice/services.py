"""Change when a provider works: weekly hours, date overrides, time off.

Each change writes an audit entry; one that may free time says so, for the
waitlist.
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime, time

from django.db import transaction

from carebook.audit.services import Actor, record_change
from carebook.bookings.models import Booking
from carebook.bookings.signals import time_freed
from carebook.practice.models import DateOverride, Provider, TimeOff, WeeklyHours

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkingInterval:
    """One interval of weekly hours, as staff enter it."""

    weekday: int
    start_time: time
    end_time: time


def _hours_as_text(provider: Provider) -> list[str]:
    return [
        f"{hours.weekday} {hours.start_time:%H:%M}-{hours.end_time:%H:%M}"
        for hours in provider.weekly_hours.order_by("weekday", "start_time")
    ]


def lock_provider(provider_id: int) -> None:
    """Serialise changes to one provider's time until the transaction ends.

    Every change that holds or frees a provider's time, or changes their
    hours, takes this lock first, so they never interleave and always lock
    in one order: the provider, then a booking, then its payments. The lock
    is FOR NO KEY UPDATE: rows that only point at the provider (a refund,
    a payment) can be written meanwhile without waiting for it. SQLite's
    IMMEDIATE transactions already hold the database's write lock, and
    Django leaves the clause out there.
    """
    Provider.objects.select_for_update(no_key=True).filter(pk=provider_id).first()


def _time_freed(provider: Provider) -> None:
    time_freed.send(sender=Provider, provider_id=provider.pk)


def replace_weekly_hours(
    provider: Provider, intervals: list[WorkingInterval], actor: Actor
) -> None:
    """Make `intervals` the provider's whole weekly hours.

    Bookings already made keep their times, even outside the new hours.
    """
    with transaction.atomic():
        lock_provider(provider.pk)
        before = _hours_as_text(provider)
        provider.weekly_hours.all().delete()
        WeeklyHours.objects.bulk_create(
            WeeklyHours(
                provider=provider,
                weekday=interval.weekday,
                start_time=interval.start_time,
                end_time=interval.end_time,
            )
            for interval in intervals
        )
        after = _hours_as_text(provider)
        if before != after:
            record_change(
                "provider.hours_changed",
                provider,
                actor,
                {"from": before, "to": after},
            )
            _time_freed(provider)
    logger.info("Weekly hours of provider %s set", provider.pk)


def add_time_off(
    provider: Provider, start: datetime, end: datetime, reason: str, actor: Actor
) -> TimeOff:
    """Block [start, end) for the provider; bookings in it stay as they are."""
    with transaction.atomic():
        lock_provider(provider.pk)
        time_off = TimeOff.objects.create(
            provider=provider, start=start, end=end, reason=reason
        )
        record_change(
            "provider.time_off_added",
            provider,
            actor,
            {"start": start.isoformat(), "end": end.isoformat()},
        )
    logger.info("Time off %s added for provider %s", time_off.pk, provider.pk)
    return time_off


def remove_time_off(time_off: TimeOff, actor: Actor) -> None:
    """Give the provider's time off back to bookings."""
    provider = time_off.provider
    with transaction.atomic():
        lock_provider(provider.pk)
        record_change(
            "provider.time_off_removed",
            provider,
            actor,
            {"start": time_off.start.isoformat(), "end": time_off.end.isoformat()},
        )
        time_off.delete()
        _time_freed(provider)


def set_date_hours(
    provider: Provider, day: date, intervals: list[tuple[time, time]], actor: Actor
) -> None:
    """Replace the provider's hours on one date; no intervals closes it."""
    with transaction.atomic():
        lock_provider(provider.pk)
        provider.date_overrides.filter(date=day).delete()
        overrides = [
            DateOverride(provider=provider, date=day, start_time=start, end_time=end)
            for start, end in intervals
        ] or [DateOverride(provider=provider, date=day)]
        DateOverride.objects.bulk_create(overrides)
        record_change(
            "provider.date_hours_set",
            provider,
            actor,
            {
                "date": day.isoformat(),
                "hours": [f"{start:%H:%M}-{end:%H:%M}" for start, end in intervals],
            },
        )
        _time_freed(provider)


def clear_date_hours(provider: Provider, day: date, actor: Actor) -> None:
    """Let the weekly hours apply again on `day`."""
    with transaction.atomic():
        lock_provider(provider.pk)
        removed, _ = provider.date_overrides.filter(date=day).delete()
        if removed:
            record_change(
                "provider.date_hours_cleared",
                provider,
                actor,
                {"date": day.isoformat()},
            )
            _time_freed(provider)


def bookings_during(provider: Provider, start: datetime, end: datetime):
    """Return the provider's bookings that hold time inside [start, end)."""
    return (
        Booking.objects.filter(provider=provider)
        .holding_time()
        .overlapping(start, end)
        .order_by("start")
    )
