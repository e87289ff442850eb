"""Turn working hours, booking rules and busy time into free slots.

Weekly hours are wall-clock times in the provider's zone, expanded date by
date, so a daylight-saving change moves nothing: 09:00 stays 09:00 local on
both sides of it. All intervals are half-open, [start, end).

Two readings of wall-clock times that do not exist once or exist twice:

- A time skipped by a change to summer time (02:30 in most of Europe on the
  last Sunday of March) is read with the offset in force before the change,
  so it lands the length of the gap later (03:30).
- A time that happens twice when clocks go back is read as its first
  occurrence.

Buffers keep time free around an appointment. The appointment itself must
fit in working hours; its buffers may reach outside them but never into busy
time.
"""

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

ZERO = timedelta(0)


@dataclass(frozen=True, order=True)
class Interval:
    """A half-open span of time [start, end) between two aware instants.

    Both ends are kept in UTC: Python compares two times of one zone by
    their wall clock alone, so the second 02:00 of a night the clocks go
    back would sort before 02:05 of the first.
    """

    start: datetime
    end: datetime

    def __post_init__(self):
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("Interval needs aware datetimes")
        object.__setattr__(self, "start", self.start.astimezone(UTC))
        object.__setattr__(self, "end", self.end.astimezone(UTC))
        if self.end < self.start:
            raise ValueError(f"Interval ends before it starts: {self}")

    def overlaps(self, other: "Interval") -> bool:
        return self.start < other.end and other.start < self.end


def local_days(first_day: date, last_day: date, zone_name: str) -> Interval:
    """Return the instants from `first_day` 00:00 to the end of `last_day`.

    The days are wall-clock days in the zone, so one across a change of the
    clocks lasts 23 or 25 hours.
    """
    zone = ZoneInfo(zone_name)
    return Interval(
        datetime.combine(first_day, time(0), tzinfo=zone),
        datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=zone),
    )


@dataclass(frozen=True)
class WorkingHours:
    """When a provider works, as wall-clock times in their zone.

    `weekly` maps a weekday (0 is Monday) to its (start, end) intervals. An
    end at or before its start runs into the next day. `overrides` maps a date
    to intervals that replace that date's weekly hours; an empty sequence
    closes the date.
    """

    zone: str
    weekly: Mapping[int, Sequence[tuple[time, time]]]
    overrides: Mapping[date, Sequence[tuple[time, time]]] = field(default_factory=dict)


@dataclass(frozen=True)
class SlotRules:
    """The length of an appointment and the rules for when it may start."""

    duration: timedelta
    step: timedelta
    buffer_before: timedelta = ZERO
    buffer_after: timedelta = ZERO
    min_notice: timedelta = ZERO
    horizon: timedelta = timedelta(days=365)

    def __post_init__(self):
        if self.duration <= ZERO or self.step <= ZERO:
            raise ValueError("duration and step must be positive")
        if min(self.buffer_before, self.buffer_after, self.min_notice) < ZERO:
            raise ValueError("buffers and notice cannot be negative")


def _local_instant(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """Return the UTC instant of a wall-clock time on a date in a zone."""
    return datetime.combine(day, wall, tzinfo=zone).astimezone(UTC)


def _merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Return the intervals sorted, with overlapping or touching ones joined."""
    merged: list[Interval] = []
    for interval in sorted(intervals):
        if merged and interval.start <= merged[-1].end:
            if interval.end > merged[-1].end:
                merged[-1] = Interval(merged[-1].start, interval.end)
        elif interval.end > interval.start:
            merged.append(interval)
    return merged


def working_intervals(hours: WorkingHours, window: Interval) -> list[Interval]:
    """Return the working time that overlaps `window`, merged, in UTC.

    Dates are walked in the provider's zone from the day before the window
    (whose hours may run past midnight into it) to the day after the window's
    last day (whose hours may continue an interval running past midnight).
    """
    zone = ZoneInfo(hours.zone)
    first = window.start.astimezone(zone).date() - timedelta(days=1)
    last = window.end.astimezone(zone).date() + timedelta(days=1)

    found = []
    day = first
    while day <= last:
        wall_intervals = hours.overrides.get(day)
        if wall_intervals is None:
            wall_intervals = hours.weekly.get(day.weekday(), ())
        for wall_start, wall_end in wall_intervals:
            end_day = day if wall_end > wall_start else day + timedelta(days=1)
            start = _local_instant(day, wall_start, zone)
            end = _local_instant(end_day, wall_end, zone)
            # A skipped start is read the length of the gap later and can
            # pass its end (02:30-03:15 reads as 03:30-03:15): no working time.
            if start < end:
                found.append(Interval(start, end))
        day += timedelta(days=1)
    # Merge before filtering: an interval outside the window can still join
    # one inside it, and the joined interval decides where slots start and
    # whether one fits.
    return [interval for interval in _merge(found) if interval.overlaps(window)]


def free_slots(
    hours: WorkingHours,
    rules: SlotRules,
    busy: Iterable[Interval],
    window: Interval,
    now: datetime,
) -> list[Interval]:
    """Return the appointments that could start in `window`, earliest first.

    1. Expand working hours over the window.
    2. Step through each working interval from its start, keeping
       appointments that end inside it.
    3. Drop starts before `now + min_notice` or at or after `now + horizon`,
       and starts outside the window.
    4. Drop appointments whose time, buffers included, overlaps busy time.
    """
    earliest = max(window.start, now + rules.min_notice)
    latest = min(window.end, now + rules.horizon)
    if earliest >= latest:
        return []

    blocked = _merge(busy)
    blocked_ends = [interval.end for interval in blocked]

    slots = []
    for working in working_intervals(hours, window):
        start = working.start
        while start + rules.duration <= working.end and start < latest:
            end = start + rules.duration
            if start >= earliest and not _is_busy(
                blocked,
                blocked_ends,
                start - rules.buffer_before,
                end + rules.buffer_after,
            ):
                slots.append(Interval(start, end))
            start += rules.step
    return slots


def _is_busy(blocked: list[Interval], blocked_ends: list[datetime], start, end) -> bool:
    """Return whether [start, end) overlaps any of the sorted, disjoint spans."""
    # The first span ending after `start` is the only one that can overlap.
    index = bisect.bisect_right(blocked_ends, start)
    return index < len(blocked) and blocked[index].start < end
