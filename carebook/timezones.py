"""IANA time zone names and the span of dates Carebook works with."""

import zoneinfo
from datetime import date, datetime
from functools import cache

from django.utils import timezone

# Far enough either way for any appointment, near enough that shifting a date
# by a day or a zone offset never leaves what Python's datetime can hold.
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2199, 12, 31)
# Names zoneinfo lists that are not places.
NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


def is_zone(name: str) -> bool:
    """Return whether `name` is an IANA time zone this machine knows."""
    return name in _known_zones()


def is_supported_date(day: date) -> bool:
    """Return whether a date lies in the span Carebook books and lists."""
    return EARLIEST_DATE <= day <= LATEST_DATE


def parse_day(text: str | None) -> date | None:
    """Return the date an address gives as YYYY-MM-DD, or None for no date."""
    try:
        day = date.fromisoformat(text) if text else None
    except ValueError:
        return None
    return day if day is None or is_supported_date(day) else None


def local_date(zone_name: str, instant: datetime | None = None) -> date:
    """Return the date in a zone at `instant`, or now."""
    return (instant or timezone.now()).astimezone(zoneinfo.ZoneInfo(zone_name)).date()


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) - NOT_ZONES


@cache
def all_zones() -> list[str]:
    """Return every IANA zone name, sorted, without the legacy aliases."""
    regional = sorted(
        name
        for name in zoneinfo.available_timezones()
        if "/" in name
        and name not in NOT_ZONES
        and not name.startswith(("Etc/", "SystemV/", "US/"))
    )
    return [*regional, "UTC"]
