"""Which figures a reader asked for: a range of local days and a narrowing."""

import operator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import reduce
from zoneinfo import ZoneInfo

from django.db.models import Q

from carebook.scheduling.availability import local_days

LONGEST_RANGE_DAYS = 800

# Local midnight to local midnight, for each run of consecutive days.
Spans = list[tuple[datetime, datetime]]


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
        return self.spans(self.days)[0]

    @property
    def days(self) -> list[date]:
        return [
            self.start + timedelta(days=offset)
            for offset in range((self.end - self.start).days + 1)
        ]

    def spans(self, days: list[date]) -> Spans:
        """Return the instants of each run of consecutive days, in order."""
        runs = []
        for day in sorted(days):
            if runs and runs[-1][1] == day - timedelta(days=1):
                runs[-1][1] = day
            else:
                runs.append([day, day])
        spans = []
        for first, last in runs:
            interval = local_days(first, last, self.zone.key)
            spans.append((interval.start, interval.end))
        return spans

    def narrow(self) -> Q:
        """Return the provider and type narrowing of rows that name both."""
        condition = Q()
        if self.provider_id is not None:
            condition &= Q(provider_id=self.provider_id)
        if self.appointment_type_id is not None:
            condition &= Q(appointment_type_id=self.appointment_type_id)
        return condition


def during(field_name: str, spans: Spans) -> Q:
    """Return the rows whose instant falls in one of the (non-empty) spans."""
    return reduce(
        operator.or_,
        (
            Q(**{f"{field_name}__gte": low, f"{field_name}__lt": high})
            for low, high in spans
        ),
    )
