"""The availability engine: plain data in, free slots out.

Nothing here touches Django or the database, so it can be tested and
benchmarked alone.
"""

from carebook.scheduling.availability import (
    Interval,
    SlotRules,
    WorkingHours,
    free_slots,
    local_days,
    working_intervals,
)

__all__ = [
    "Interval",
    "SlotRules",
    "WorkingHours",
    "free_slots",
    "local_days",
    "working_intervals",
]
