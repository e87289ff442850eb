"""IANA time zone names, checked and listed for people to choose from."""

import zoneinfo
from functools import cache


def is_zone(name: str) -> bool:
    """Return whether `name` is an IANA time zone this machine knows."""
    return name in _known_zones()


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@cache
def all_zones() -> list[str]:
    """Return every IANA zone name, sorted, without the legacy aliases."""
    regional = sorted(
        name
        for name in zoneinfo.available_timezones()
        if "/" in name and not name.startswith(("Etc/", "SystemV/", "US/"))
    )
    return [*regional, "UTC"]
