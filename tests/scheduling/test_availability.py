"""The availability engine, pinned behaviour by behaviour.

Expected slots are written out by hand, as wall-clock "HH:MM" strings in the
zone that matters for the test or as exact UTC instants. The property tests
at the end check the same rules on random inputs, against a reference
implementation built from a minute-by-minute set of working time.
"""

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carebook.scheduling.availability import (
    Interval,
    SlotRules,
    WorkingHours,
    free_slots,
    working_intervals,
)

BERLIN = "Europe/Berlin"
SYDNEY = "Australia/Sydney"
NEW_YORK = "America/New_York"
AUCKLAND = "Pacific/Auckland"

EVERY_DAY = tuple(range(7))
MONDAY, FRIDAY, SATURDAY = 0, 4, 5

# Far enough before every test date that notice never matters, and close
# enough that the default one-year horizon covers all of 2026.
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


# Building inputs -----------------------------------------------------------


def wall(span: str) -> tuple[time, time]:
    """Read "09:00-17:00" as a pair of wall-clock times."""
    start, end = span.split("-")
    return time.fromisoformat(start), time.fromisoformat(end)


def hours(zone, *spans, days=EVERY_DAY, overrides=None) -> WorkingHours:
    """Working hours with the same wall spans on each of `days`.

    `overrides` maps a date to its own list of "HH:MM-HH:MM" spans.
    """
    return WorkingHours(
        zone=zone,
        weekly={day: [wall(text) for text in spans] for day in days},
        overrides={
            day: [wall(text) for text in texts]
            for day, texts in (overrides or {}).items()
        },
    )


def at(zone: str, text: str) -> datetime:
    """An aware instant from local "YYYY-MM-DD HH:MM[:SS]" text.

    Only for wall times that exist exactly once in `zone`.
    """
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


def utc(text: str) -> datetime:
    return at("UTC", text).astimezone(UTC)


def span(zone: str, start: str, end: str) -> Interval:
    return Interval(at(zone, start), at(zone, end))


def utc_span(start: str, end: str) -> Interval:
    return Interval(utc(start), utc(end))


def rules(duration: int, step: int | None = None, **minutes) -> SlotRules:
    """Slot rules given in minutes; the step defaults to the duration."""
    return SlotRules(
        duration=timedelta(minutes=duration),
        step=timedelta(minutes=step or duration),
        **{name: timedelta(minutes=value) for name, value in minutes.items()},
    )


def slots(working, slot_rules, window, busy=(), now=LONG_AGO) -> list[Interval]:
    return free_slots(working, slot_rules, busy, window, now)


# Reading results -----------------------------------------------------------


def local(found: list[Interval], zone: str, fmt: str = "%H:%M") -> list[str]:
    """The slot starts as wall-clock text in `zone`."""
    return [slot.start.astimezone(ZoneInfo(zone)).strftime(fmt) for slot in found]


def local_days(found: list[Interval], zone: str) -> list[str]:
    return local(found, zone, "%m-%d %H:%M")


def utc_starts(found: list[Interval]) -> list[str]:
    return [slot.start.astimezone(UTC).strftime("%m-%d %H:%M") for slot in found]


# Daylight saving: Europe/Berlin --------------------------------------------


def test_berlin_spring_forward_keeps_nine_oclock_local():
    found = slots(
        hours(BERLIN, "09:00-17:00"),
        rules(240),
        span(BERLIN, "2026-03-28 00:00", "2026-03-30 00:00"),
    )

    assert local_days(found, BERLIN) == [
        "03-28 09:00",
        "03-28 13:00",
        "03-29 09:00",
        "03-29 13:00",
    ]
    # Winter time is UTC+1, summer time UTC+2: the same wall clock, an hour
    # earlier in UTC.
    assert found == [
        utc_span("2026-03-28 08:00", "2026-03-28 12:00"),
        utc_span("2026-03-28 12:00", "2026-03-28 16:00"),
        utc_span("2026-03-29 07:00", "2026-03-29 11:00"),
        utc_span("2026-03-29 11:00", "2026-03-29 15:00"),
    ]


def test_berlin_fall_back_keeps_nine_oclock_local():
    found = slots(
        hours(BERLIN, "09:00-17:00"),
        rules(240),
        span(BERLIN, "2026-10-24 00:00", "2026-10-26 00:00"),
    )

    assert local_days(found, BERLIN) == [
        "10-24 09:00",
        "10-24 13:00",
        "10-25 09:00",
        "10-25 13:00",
    ]
    assert found == [
        utc_span("2026-10-24 07:00", "2026-10-24 11:00"),
        utc_span("2026-10-24 11:00", "2026-10-24 15:00"),
        utc_span("2026-10-25 08:00", "2026-10-25 12:00"),
        utc_span("2026-10-25 12:00", "2026-10-25 16:00"),
    ]


def test_berlin_spring_forward_night_has_one_hour_fewer():
    working = hours(BERLIN, "22:00-06:00", days=[SATURDAY])
    window = span(BERLIN, "2026-03-28 00:00", "2026-03-30 00:00")

    found = slots(working, rules(60), window)

    # 02:00-03:00 does not exist that night: seven real hours, not eight.
    assert local(found, BERLIN) == [
        "22:00",
        "23:00",
        "00:00",
        "01:00",
        "03:00",
        "04:00",
        "05:00",
    ]
    assert utc_starts(found) == [
        "03-28 21:00",
        "03-28 22:00",
        "03-28 23:00",
        "03-29 00:00",
        "03-29 01:00",
        "03-29 02:00",
        "03-29 03:00",
    ]
    assert working_intervals(working, window) == [
        utc_span("2026-03-28 21:00", "2026-03-29 04:00")
    ]


def test_berlin_fall_back_night_has_one_hour_more():
    working = hours(BERLIN, "22:00-06:00", days=[SATURDAY])
    window = span(BERLIN, "2026-10-24 00:00", "2026-10-26 00:00")

    found = slots(working, rules(60), window)

    # 02:00-03:00 happens twice that night: nine real hours, not eight.
    assert local(found, BERLIN) == [
        "22:00",
        "23:00",
        "00:00",
        "01:00",
        "02:00",
        "02:00",
        "03:00",
        "04:00",
        "05:00",
    ]
    assert utc_starts(found) == [
        "10-24 20:00",
        "10-24 21:00",
        "10-24 22:00",
        "10-24 23:00",
        "10-25 00:00",
        "10-25 01:00",
        "10-25 02:00",
        "10-25 03:00",
        "10-25 04:00",
    ]


def test_berlin_skipped_start_is_read_with_the_winter_offset():
    # 02:30 does not exist on 2026-03-29; read at UTC+1 it is 01:30 UTC,
    # which is 03:30 summer time: the length of the gap later.
    working = hours(BERLIN, days=[], overrides={date(2026, 3, 29): ["02:30-05:00"]})
    window = span(BERLIN, "2026-03-29 00:00", "2026-03-30 00:00")

    assert working_intervals(working, window) == [
        utc_span("2026-03-29 01:30", "2026-03-29 03:00")
    ]
    assert local(slots(working, rules(30), window), BERLIN) == [
        "03:30",
        "04:00",
        "04:30",
    ]


def test_berlin_skipped_end_is_read_with_the_winter_offset():
    # 00:00 is 23:00 UTC the evening before; 02:30 read at UTC+1 is 01:30
    # UTC (03:30 summer time), so the span holds two and a half real hours.
    working = hours(BERLIN, days=[], overrides={date(2026, 3, 29): ["00:00-02:30"]})
    window = span(BERLIN, "2026-03-29 00:00", "2026-03-30 00:00")

    assert working_intervals(working, window) == [
        utc_span("2026-03-28 23:00", "2026-03-29 01:30")
    ]
    assert local(slots(working, rules(30), window), BERLIN) == [
        "00:00",
        "00:30",
        "01:00",
        "01:30",
        "03:00",
    ]


def test_berlin_hours_whose_skipped_start_lands_after_their_end_are_empty():
    # 02:30-03:15 on 2026-03-29 reads as 03:30-03:15: no working time at
    # all, and certainly not an error for the whole query.
    working = hours(
        BERLIN,
        days=[],
        overrides={date(2026, 3, 29): ["02:30-03:15", "08:00-09:00"]},
    )
    window = span(BERLIN, "2026-03-29 00:00", "2026-03-30 00:00")

    assert working_intervals(working, window) == [
        utc_span("2026-03-29 06:00", "2026-03-29 07:00")
    ]
    assert local(slots(working, rules(30), window), BERLIN) == ["08:00", "08:30"]


def test_berlin_ambiguous_start_is_its_first_occurrence():
    # 02:30 happens at 00:30 UTC (summer time) and 01:30 UTC (winter time).
    working = hours(BERLIN, days=[], overrides={date(2026, 10, 25): ["02:30-04:00"]})
    window = span(BERLIN, "2026-10-25 00:00", "2026-10-26 00:00")

    assert working_intervals(working, window) == [
        utc_span("2026-10-25 00:30", "2026-10-25 03:00")
    ]
    assert utc_starts(slots(working, rules(60), window)) == [
        "10-25 00:30",
        "10-25 01:30",
    ]


def test_berlin_ambiguous_end_is_its_first_occurrence():
    working = hours(BERLIN, days=[], overrides={date(2026, 10, 25): ["01:00-02:30"]})
    window = span(BERLIN, "2026-10-25 00:00", "2026-10-26 00:00")

    assert working_intervals(working, window) == [
        utc_span("2026-10-24 23:00", "2026-10-25 00:30")
    ]


# Daylight saving: Australia/Sydney (southern hemisphere) ------------------


def test_sydney_clocks_going_back_keep_nine_oclock_local():
    found = slots(
        hours(SYDNEY, "09:00-17:00"),
        rules(240),
        span(SYDNEY, "2026-04-04 00:00", "2026-04-06 00:00"),
    )

    assert local_days(found, SYDNEY) == [
        "04-04 09:00",
        "04-04 13:00",
        "04-05 09:00",
        "04-05 13:00",
    ]
    # Summer time UTC+11 ends on 2026-04-05; standard time is UTC+10.
    assert found == [
        utc_span("2026-04-03 22:00", "2026-04-04 02:00"),
        utc_span("2026-04-04 02:00", "2026-04-04 06:00"),
        utc_span("2026-04-04 23:00", "2026-04-05 03:00"),
        utc_span("2026-04-05 03:00", "2026-04-05 07:00"),
    ]


def test_sydney_clocks_going_forward_keep_nine_oclock_local():
    found = slots(
        hours(SYDNEY, "09:00-17:00"),
        rules(240),
        span(SYDNEY, "2026-10-03 00:00", "2026-10-05 00:00"),
    )

    assert local_days(found, SYDNEY) == [
        "10-03 09:00",
        "10-03 13:00",
        "10-04 09:00",
        "10-04 13:00",
    ]
    assert found == [
        utc_span("2026-10-02 23:00", "2026-10-03 03:00"),
        utc_span("2026-10-03 03:00", "2026-10-03 07:00"),
        utc_span("2026-10-03 22:00", "2026-10-04 02:00"),
        utc_span("2026-10-04 02:00", "2026-10-04 06:00"),
    ]


def test_sydney_night_when_clocks_go_back_has_one_hour_more():
    working = hours(SYDNEY, "22:00-06:00", days=[SATURDAY])
    window = span(SYDNEY, "2026-04-04 00:00", "2026-04-06 00:00")

    found = slots(working, rules(60), window)

    # At 03:00 summer time the clocks go back to 02:00: 02:00 comes twice.
    assert local(found, SYDNEY) == [
        "22:00",
        "23:00",
        "00:00",
        "01:00",
        "02:00",
        "02:00",
        "03:00",
        "04:00",
        "05:00",
    ]
    assert working_intervals(working, window) == [
        utc_span("2026-04-04 11:00", "2026-04-04 20:00")
    ]


def test_sydney_night_when_clocks_go_forward_has_one_hour_fewer():
    working = hours(SYDNEY, "22:00-06:00", days=[SATURDAY])
    window = span(SYDNEY, "2026-10-03 00:00", "2026-10-05 00:00")

    found = slots(working, rules(60), window)

    assert local(found, SYDNEY) == [
        "22:00",
        "23:00",
        "00:00",
        "01:00",
        "03:00",
        "04:00",
        "05:00",
    ]
    assert working_intervals(working, window) == [
        utc_span("2026-10-03 12:00", "2026-10-03 19:00")
    ]


def test_sydney_skipped_and_repeated_times_follow_the_documented_readings():
    working = hours(
        SYDNEY,
        days=[],
        overrides={
            # 02:30 is skipped: read at UTC+10 it lands on 03:30 summer time.
            date(2026, 10, 4): ["02:30-04:00"],
            # 02:30 happens twice: the first one, still at UTC+11.
            date(2026, 4, 5): ["02:30-04:00"],
        },
    )

    assert working_intervals(
        working, span(SYDNEY, "2026-10-04 00:00", "2026-10-05 00:00")
    ) == [utc_span("2026-10-03 16:30", "2026-10-03 17:00")]
    assert working_intervals(
        working, span(SYDNEY, "2026-04-05 00:00", "2026-04-06 00:00")
    ) == [utc_span("2026-04-04 15:30", "2026-04-04 18:00")]


# Daylight saving: America/New_York -----------------------------------------


def test_new_york_keeps_nine_oclock_local_across_both_changes():
    working = hours(NEW_YORK, "09:00-17:00")

    spring = slots(
        working, rules(480), span(NEW_YORK, "2026-03-07 00:00", "2026-03-09 00:00")
    )
    autumn = slots(
        working, rules(480), span(NEW_YORK, "2026-10-31 00:00", "2026-11-02 00:00")
    )

    assert local_days(spring, NEW_YORK) == ["03-07 09:00", "03-08 09:00"]
    assert utc_starts(spring) == ["03-07 14:00", "03-08 13:00"]
    assert local_days(autumn, NEW_YORK) == ["10-31 09:00", "11-01 09:00"]
    assert utc_starts(autumn) == ["10-31 13:00", "11-01 14:00"]


def test_new_york_repeated_half_past_one_is_its_first_occurrence():
    # On 2026-11-01 01:00-02:00 happens twice; 01:30 EDT is 05:30 UTC.
    working = hours(NEW_YORK, days=[], overrides={date(2026, 11, 1): ["01:30-03:00"]})
    window = span(NEW_YORK, "2026-11-01 00:00", "2026-11-02 00:00")

    assert working_intervals(working, window) == [
        utc_span("2026-11-01 05:30", "2026-11-01 08:00")
    ]


# Across midnight -----------------------------------------------------------


def test_overnight_hours_run_past_midnight_into_the_next_day():
    found = slots(
        hours(BERLIN, "22:00-02:00", days=[FRIDAY]),
        rules(60),
        span(BERLIN, "2026-06-05 00:00", "2026-06-07 00:00"),
    )

    assert local_days(found, BERLIN) == [
        "06-05 22:00",
        "06-05 23:00",
        "06-06 00:00",
        "06-06 01:00",
    ]


def test_window_starting_at_midnight_includes_the_previous_nights_hours():
    # Friday's 22:00-02:00 is the only working time; the window is Saturday.
    # Slots step from 22:00 Friday (22:00, 22:45, 23:30, 00:15, 01:00), not
    # from the window's midnight.
    found = slots(
        hours(BERLIN, "22:00-02:00", days=[FRIDAY]),
        rules(30, 45),
        span(BERLIN, "2026-06-06 00:00", "2026-06-07 00:00"),
    )

    assert local(found, BERLIN) == ["00:15", "01:00"]


def test_end_equal_to_start_means_a_full_day():
    working = hours(BERLIN, "08:00-08:00", days=[MONDAY])
    window = span(BERLIN, "2026-06-08 00:00", "2026-06-10 00:00")

    assert working_intervals(working, window) == [
        utc_span("2026-06-08 06:00", "2026-06-09 06:00")
    ]
    assert local_days(slots(working, rules(360), window), BERLIN) == [
        "06-08 08:00",
        "06-08 14:00",
        "06-08 20:00",
        "06-09 02:00",
    ]


def test_hours_ending_at_midnight_join_the_next_days_hours():
    # Friday 22:00-00:00 and Saturday 00:00-02:00 are one stretch of work, so
    # a slot may cross midnight and the grid runs on from Friday 22:00.
    working = WorkingHours(
        zone=BERLIN,
        weekly={FRIDAY: [wall("22:00-00:00")], SATURDAY: [wall("00:00-02:00")]},
    )

    both_days = slots(
        working, rules(60, 45), span(BERLIN, "2026-06-05 00:00", "2026-06-07 00:00")
    )
    saturday = slots(
        working, rules(60, 45), span(BERLIN, "2026-06-06 00:00", "2026-06-07 00:00")
    )

    assert local_days(both_days, BERLIN) == [
        "06-05 22:00",
        "06-05 22:45",
        "06-05 23:30",
        "06-06 00:15",
        "06-06 01:00",
    ]
    assert local(saturday, BERLIN) == ["00:15", "01:00"]


def test_window_ending_before_midnight_offers_a_slot_into_the_next_days_hours():
    # 23:30-00:30 starts inside the window and runs on into Saturday's hours.
    working = WorkingHours(
        zone=BERLIN,
        weekly={FRIDAY: [wall("22:00-00:00")], SATURDAY: [wall("00:00-02:00")]},
    )

    found = slots(
        working, rules(60, 30), span(BERLIN, "2026-06-05 22:00", "2026-06-05 23:45")
    )

    assert found == [
        span(BERLIN, "2026-06-05 22:00", "2026-06-05 23:00"),
        span(BERLIN, "2026-06-05 22:30", "2026-06-05 23:30"),
        span(BERLIN, "2026-06-05 23:00", "2026-06-06 00:00"),
        span(BERLIN, "2026-06-05 23:30", "2026-06-06 00:30"),
    ]


def test_patient_in_auckland_sees_berlin_hours_within_their_own_day():
    # The patient's Tuesday 2026-06-09 in Auckland (UTC+12) runs from 12:00
    # UTC Monday to 12:00 UTC Tuesday: Berlin (UTC+2) Monday 14:00 to
    # Tuesday 14:00.
    working = hours(BERLIN, "09:00-17:00", days=range(5))
    window = span(AUCKLAND, "2026-06-09 00:00", "2026-06-10 00:00")

    found = slots(working, rules(60), window)

    assert local_days(found, BERLIN) == [
        "06-08 14:00",
        "06-08 15:00",
        "06-08 16:00",
        "06-09 09:00",
        "06-09 10:00",
        "06-09 11:00",
        "06-09 12:00",
        "06-09 13:00",
    ]
    assert local_days(found, AUCKLAND) == [
        "06-09 00:00",
        "06-09 01:00",
        "06-09 02:00",
        "06-09 19:00",
        "06-09 20:00",
        "06-09 21:00",
        "06-09 22:00",
        "06-09 23:00",
    ]


def test_same_window_in_any_zone_gives_the_same_slots():
    working = hours(BERLIN, "09:00-17:00", days=range(5))
    window = span(AUCKLAND, "2026-06-09 00:00", "2026-06-10 00:00")
    in_utc = Interval(window.start.astimezone(UTC), window.end.astimezone(UTC))
    in_new_york = Interval(
        window.start.astimezone(ZoneInfo(NEW_YORK)),
        window.end.astimezone(ZoneInfo(NEW_YORK)),
    )

    expected = slots(working, rules(60), window)

    assert utc_starts(expected)[0] == "06-08 12:00"
    assert slots(working, rules(60), in_utc) == expected
    assert slots(working, rules(60), in_new_york) == expected


# Breaks and joined intervals -----------------------------------------------


def test_lunch_break_splits_the_day_and_no_slot_crosses_it():
    found = slots(
        hours(BERLIN, "09:00-12:00", "13:00-17:00"),
        rules(60, 30),
        span(BERLIN, "2026-06-08 00:00", "2026-06-09 00:00"),
    )

    assert local(found, BERLIN) == [
        "09:00",
        "09:30",
        "10:00",
        "10:30",
        "11:00",
        "13:00",
        "13:30",
        "14:00",
        "14:30",
        "15:00",
        "15:30",
        "16:00",
    ]


def test_adjacent_intervals_merge_so_a_slot_may_cross_noon():
    # One grid from 09:00 in 50-minute steps; 11:30-12:30 crosses noon.
    found = slots(
        hours(BERLIN, "12:00-17:00", "09:00-12:00"),
        rules(60, 50),
        span(BERLIN, "2026-06-08 00:00", "2026-06-09 00:00"),
    )

    assert local(found, BERLIN) == [
        "09:00",
        "09:50",
        "10:40",
        "11:30",
        "12:20",
        "13:10",
        "14:00",
        "14:50",
        "15:40",
    ]


def test_overlapping_intervals_merge_into_one_stretch():
    working = hours(BERLIN, "11:00-15:00", "09:00-13:00")
    window = span(BERLIN, "2026-06-08 00:00", "2026-06-09 00:00")

    assert working_intervals(working, window) == [
        utc_span("2026-06-08 07:00", "2026-06-08 13:00")
    ]
    assert local(slots(working, rules(120, 90), window), BERLIN) == [
        "09:00",
        "10:30",
        "12:00",
    ]


def test_window_ending_at_a_seam_still_offers_the_slot_crossing_it():
    # 11:30 starts inside the window and 11:30-12:30 lies in working time.
    working = hours(BERLIN, "09:00-12:00", "12:00-17:00")

    found = slots(
        working, rules(60, 30), span(BERLIN, "2026-06-08 09:00", "2026-06-08 12:00")
    )

    assert local(found, BERLIN) == [
        "09:00",
        "09:30",
        "10:00",
        "10:30",
        "11:00",
        "11:30",
    ]


def test_window_starting_at_a_seam_keeps_the_grid_of_the_whole_stretch():
    # The grid runs from 09:00 in 50-minute steps whatever the window.
    working = hours(BERLIN, "09:00-12:00", "12:00-17:00")

    found = slots(
        working, rules(60, 50), span(BERLIN, "2026-06-08 12:00", "2026-06-08 17:00")
    )

    assert local(found, BERLIN) == ["12:20", "13:10", "14:00", "14:50", "15:40"]


# Buffers -------------------------------------------------------------------


def test_busy_time_blocks_slots_whose_buffered_span_overlaps_it():
    # A slot at s holds [s - 10, s + 45); it meets 11:00-11:30 for 10:30,
    # 11:00 and 11:30 but not for 10:00 (to 10:45) or 12:00 (from 11:50).
    found = slots(
        hours(BERLIN, "09:00-13:00"),
        rules(30, buffer_before=10, buffer_after=15),
        span(BERLIN, "2026-06-08 00:00", "2026-06-09 00:00"),
        busy=[span(BERLIN, "2026-06-08 11:00", "2026-06-08 11:30")],
    )

    assert local(found, BERLIN) == ["09:00", "09:30", "10:00", "12:00", "12:30"]


def test_slots_touching_busy_time_are_free():
    found = slots(
        hours(BERLIN, "09:00-12:00"),
        rules(30),
        span(BERLIN, "2026-06-08 00:00", "2026-06-09 00:00"),
        busy=[span(BERLIN, "2026-06-08 10:00", "2026-06-08 11:00")],
    )

    assert local(found, BERLIN) == ["09:00", "09:30", "11:00", "11:30"]


def test_after_buffer_ending_exactly_when_busy_time_starts_is_free():
    # 10:15 + 30 minutes + 15 minutes of buffer ends at 11:00 sharp.
    found = slots(
        hours(BERLIN, "09:00-11:00"),
        rules(30, 5, buffer_after=15),
        span(BERLIN, "2026-06-08 10:00", "2026-06-08 11:00"),
        busy=[span(BERLIN, "2026-06-08 11:00", "2026-06-08 12:00")],
    )

    assert local(found, BERLIN) == ["10:00", "10:05", "10:10", "10:15"]


def test_before_buffer_starting_exactly_when_busy_time_ends_is_free():
    # 12:10 - 10 minutes of buffer starts at 12:00 sharp.
    found = slots(
        hours(BERLIN, "12:00-14:00"),
        rules(30, 5, buffer_before=10),
        span(BERLIN, "2026-06-08 12:00", "2026-06-08 12:30"),
        busy=[span(BERLIN, "2026-06-08 11:00", "2026-06-08 12:00")],
    )

    assert local(found, BERLIN) == ["12:10", "12:15", "12:20", "12:25"]


def test_buffers_may_reach_outside_working_hours():
    working = hours(BERLIN, "09:00-10:00")
    slot_rules = rules(30, buffer_before=30, buffer_after=30)
    window = span(BERLIN, "2026-06-08 00:00", "2026-06-09 00:00")

    assert local(slots(working, slot_rules, window), BERLIN) == ["09:00", "09:30"]


def test_buffers_outside_working_hours_still_avoid_busy_time():
    # 09:00 would need 08:30-10:00 free; the 08:00-08:45 booking is in it.
    found = slots(
        hours(BERLIN, "09:00-10:00"),
        rules(30, buffer_before=30, buffer_after=30),
        span(BERLIN, "2026-06-08 00:00", "2026-06-09 00:00"),
        busy=[span(BERLIN, "2026-06-08 08:00", "2026-06-08 08:45")],
    )

    assert local(found, BERLIN) == ["09:30"]


# Notice, horizon and window edges ------------------------------------------

NINE_TO_NOON = hours(BERLIN, "09:00-12:00")
JUNE_8 = span(BERLIN, "2026-06-08 00:00", "2026-06-09 00:00")


def test_slot_starting_exactly_at_the_minimum_notice_is_offered():
    found = slots(
        NINE_TO_NOON,
        rules(30, min_notice=120),
        JUNE_8,
        now=at(BERLIN, "2026-06-08 08:00"),
    )

    assert local(found, BERLIN) == ["10:00", "10:30", "11:00", "11:30"]


def test_slot_one_second_inside_the_minimum_notice_is_not_offered():
    found = slots(
        NINE_TO_NOON,
        rules(30, min_notice=120),
        JUNE_8,
        now=at(BERLIN, "2026-06-08 08:00:01"),
    )

    assert local(found, BERLIN) == ["10:30", "11:00", "11:30"]


def test_slot_starting_exactly_at_the_horizon_is_not_offered():
    found = slots(
        NINE_TO_NOON,
        rules(30, horizon=120),
        JUNE_8,
        now=at(BERLIN, "2026-06-08 09:00"),
    )

    assert local(found, BERLIN) == ["09:00", "09:30", "10:00", "10:30"]


def test_horizon_one_second_past_a_start_offers_it():
    found = slots(
        NINE_TO_NOON,
        SlotRules(
            duration=timedelta(minutes=30),
            step=timedelta(minutes=30),
            horizon=timedelta(hours=2, seconds=1),
        ),
        JUNE_8,
        now=at(BERLIN, "2026-06-08 09:00"),
    )

    assert local(found, BERLIN) == ["09:00", "09:30", "10:00", "10:30", "11:00"]


def test_now_already_past_some_slots_hides_them():
    found = slots(NINE_TO_NOON, rules(30), JUNE_8, now=at(BERLIN, "2026-06-08 10:15"))

    assert local(found, BERLIN) == ["10:30", "11:00", "11:30"]


def test_notice_reaching_past_the_window_leaves_nothing():
    found = slots(
        NINE_TO_NOON,
        rules(30, min_notice=24 * 60),
        JUNE_8,
        now=at(BERLIN, "2026-06-08 00:00"),
    )

    assert found == []


def test_only_starts_inside_the_window_count_and_slots_may_end_after_it():
    # The window is [10:00, 10:45): 09:30 starts before it, 11:00 at or after
    # its end; 10:30-11:30 ends after the window and is still offered.
    found = slots(
        NINE_TO_NOON,
        rules(60, 30),
        span(BERLIN, "2026-06-08 10:00", "2026-06-08 10:45"),
    )

    assert found == [
        span(BERLIN, "2026-06-08 10:00", "2026-06-08 11:00"),
        span(BERLIN, "2026-06-08 10:30", "2026-06-08 11:30"),
    ]


def test_window_end_is_exclusive():
    found = slots(
        NINE_TO_NOON,
        rules(30),
        span(BERLIN, "2026-06-08 10:00", "2026-06-08 11:00"),
    )

    assert local(found, BERLIN) == ["10:00", "10:30"]


# Date overrides ------------------------------------------------------------


def test_override_replaces_the_weekly_hours_of_that_date_only():
    working = hours(
        BERLIN,
        "09:00-17:00",
        days=[MONDAY],
        overrides={date(2026, 6, 8): ["14:00-16:00"]},
    )

    found = slots(
        working, rules(120), span(BERLIN, "2026-06-08 00:00", "2026-06-16 00:00")
    )

    assert local_days(found, BERLIN) == [
        "06-08 14:00",
        "06-15 09:00",
        "06-15 11:00",
        "06-15 13:00",
        "06-15 15:00",
    ]


def test_empty_override_closes_the_date():
    working = hours(
        BERLIN, "09:00-17:00", days=[MONDAY], overrides={date(2026, 6, 8): []}
    )

    found = slots(
        working, rules(240), span(BERLIN, "2026-06-08 00:00", "2026-06-16 00:00")
    )

    assert local_days(found, BERLIN) == ["06-15 09:00", "06-15 13:00"]


def test_override_opens_a_weekday_without_weekly_hours():
    working = hours(
        BERLIN,
        "09:00-17:00",
        days=range(5),
        overrides={date(2026, 6, 13): ["10:00-12:00"]},
    )

    found = slots(
        working, rules(60), span(BERLIN, "2026-06-13 00:00", "2026-06-15 00:00")
    )

    assert local_days(found, BERLIN) == ["06-13 10:00", "06-13 11:00"]


def test_closing_a_date_also_closes_its_overnight_hours():
    working = hours(
        BERLIN, "22:00-02:00", days=[FRIDAY], overrides={date(2026, 6, 5): []}
    )

    found = slots(
        working, rules(60), span(BERLIN, "2026-06-05 00:00", "2026-06-07 00:00")
    )

    assert found == []


def test_closing_the_next_date_keeps_the_previous_nights_hours():
    # Friday's 22:00-02:00 belongs to Friday; closing Saturday leaves it.
    working = hours(
        BERLIN, "22:00-02:00", days=[FRIDAY], overrides={date(2026, 6, 6): []}
    )

    found = slots(
        working, rules(60), span(BERLIN, "2026-06-06 00:00", "2026-06-07 00:00")
    )

    assert local(found, BERLIN) == ["00:00", "01:00"]


# Step, duration and busy time in awkward shapes ----------------------------


def test_step_shorter_than_duration_gives_overlapping_slots():
    found = slots(
        hours(BERLIN, "09:00-11:00"),
        rules(60, 15),
        JUNE_8,
    )

    assert local(found, BERLIN) == ["09:00", "09:15", "09:30", "09:45", "10:00"]


def test_duration_not_a_multiple_of_step_stops_at_the_last_fitting_start():
    # 10:20 + 50 minutes would end at 11:10, past the 11:00 close.
    found = slots(hours(BERLIN, "09:00-11:00"), rules(50, 20), JUNE_8)

    assert found == [
        span(BERLIN, "2026-06-08 09:00", "2026-06-08 09:50"),
        span(BERLIN, "2026-06-08 09:20", "2026-06-08 10:10"),
        span(BERLIN, "2026-06-08 09:40", "2026-06-08 10:30"),
        span(BERLIN, "2026-06-08 10:00", "2026-06-08 10:50"),
    ]


def test_step_longer_than_duration_leaves_gaps():
    found = slots(hours(BERLIN, "09:00-11:00"), rules(20, 45), JUNE_8)

    assert local(found, BERLIN) == ["09:00", "09:45", "10:30"]


def test_overlapping_unsorted_busy_intervals_in_mixed_zones_all_count():
    # Together they cover 09:15-10:15 and 10:30-11:00 Berlin time.
    busy = [
        span(BERLIN, "2026-06-08 10:30", "2026-06-08 11:00"),
        utc_span("2026-06-08 07:45", "2026-06-08 08:15"),  # 09:45-10:15
        span(BERLIN, "2026-06-08 09:15", "2026-06-08 10:00"),
        span(AUCKLAND, "2026-06-08 19:30", "2026-06-08 19:40"),  # 09:30-09:40
    ]

    found = slots(hours(BERLIN, "09:00-12:00"), rules(15), JUNE_8, busy=busy)

    assert local(found, BERLIN) == [
        "09:00",
        "10:15",
        "11:00",
        "11:15",
        "11:30",
        "11:45",
    ]


def test_long_busy_interval_listed_after_one_it_contains_still_blocks():
    busy = [
        span(BERLIN, "2026-06-08 09:15", "2026-06-08 09:30"),
        span(BERLIN, "2026-06-08 09:00", "2026-06-08 11:00"),
    ]

    found = slots(hours(BERLIN, "09:00-12:00"), rules(30), JUNE_8, busy=busy)

    assert local(found, BERLIN) == ["11:00", "11:30"]


# Validation ----------------------------------------------------------------


def test_interval_with_a_naive_start_is_rejected():
    with pytest.raises(ValueError, match="aware"):
        Interval(datetime(2026, 6, 8, 9), utc("2026-06-08 10:00"))


def test_interval_with_a_naive_end_is_rejected():
    with pytest.raises(ValueError, match="aware"):
        Interval(utc("2026-06-08 09:00"), datetime(2026, 6, 8, 10))


def test_interval_ending_before_it_starts_is_rejected():
    with pytest.raises(ValueError, match="ends before it starts"):
        utc_span("2026-06-08 10:00", "2026-06-08 09:00")


def test_zero_length_busy_interval_blocks_nothing():
    # [10:00, 10:00) holds no time at all, so 09:30-10:00, 10:00-10:30 and
    # even 09:45-10:15 around it stay free.
    moment = at(BERLIN, "2026-06-08 10:00")

    found = slots(
        hours(BERLIN, "09:00-11:00"),
        rules(30, 15),
        JUNE_8,
        busy=[Interval(moment, moment)],
    )

    assert local(found, BERLIN) == [
        "09:00",
        "09:15",
        "09:30",
        "09:45",
        "10:00",
        "10:15",
        "10:30",
    ]


@pytest.mark.parametrize(
    ("duration", "step"),
    [(timedelta(0), timedelta(minutes=15)), (timedelta(minutes=30), timedelta(0))],
    ids=["zero duration", "zero step"],
)
def test_slot_rules_reject_zero_duration_or_step(duration, step):
    with pytest.raises(ValueError, match="must be positive"):
        SlotRules(duration=duration, step=step)


@pytest.mark.parametrize(
    "field", ["buffer_before", "buffer_after", "min_notice"], ids=str
)
def test_slot_rules_reject_negative_buffers_and_notice(field):
    with pytest.raises(ValueError, match="cannot be negative"):
        SlotRules(
            duration=timedelta(minutes=30),
            step=timedelta(minutes=30),
            **{field: timedelta(minutes=-1)},
        )


# Properties on random inputs -----------------------------------------------

PROPERTY_ZONES = ["UTC", BERLIN, SYDNEY, NEW_YORK]
# Sundays on which clocks change in one of those zones, and a quiet one.
PROPERTY_DAYS = [
    date(2026, 3, 29),
    date(2026, 10, 25),
    date(2026, 4, 5),
    date(2026, 10, 4),
    date(2026, 3, 8),
    date(2026, 11, 1),
    date(2026, 6, 14),
]
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
FAVOURITE_TIMES = [(0, 0), (2, 0), (2, 30), (3, 0), (6, 0), (9, 0), (12, 0), (22, 0)]

# Favourite times make touching, overnight and DST-gap spans common; the
# half-hour grid keeps the rest varied.
wall_times = st.one_of(
    st.sampled_from([time(h, m) for h, m in FAVOURITE_TIMES]),
    st.integers(0, 47).map(lambda n: time(n // 2, 30 * (n % 2))),
)
wall_spans = st.lists(st.tuples(wall_times, wall_times), max_size=2)
five_minutes = st.integers(1, 48).map(lambda n: timedelta(minutes=5 * n))


def minutes_between(low: int, high: int, step: int = 5):
    return st.integers(low // step, high // step).map(
        lambda n: timedelta(minutes=step * n)
    )


@st.composite
def weekly_hours(draw) -> dict[int, list[tuple[time, time]]]:
    """Hours on most weekdays, one or two spans each."""
    day_spans = st.lists(st.tuples(wall_times, wall_times), min_size=1, max_size=2)
    spans = draw(st.lists(day_spans, min_size=7, max_size=7))
    closed = draw(st.sets(st.integers(0, 6), max_size=3))
    return {day: spans[day] for day in range(7) if day not in closed}


@st.composite
def scenarios(draw):
    zone = draw(st.sampled_from(PROPERTY_ZONES))
    provider_zone = ZoneInfo(zone)
    sunday = draw(st.sampled_from(PROPERTY_DAYS))
    override_days = [sunday + timedelta(days=n) for n in range(-3, 3)]
    working = WorkingHours(
        zone=zone,
        weekly=draw(weekly_hours()),
        overrides=draw(
            st.dictionaries(st.sampled_from(override_days), wall_spans, max_size=3)
        ),
    )
    slot_rules = SlotRules(
        duration=draw(five_minutes),
        step=draw(five_minutes),
        buffer_before=draw(minutes_between(0, 60)),
        buffer_after=draw(minutes_between(0, 60)),
        min_notice=draw(minutes_between(0, 6 * 60, 30)),
        horizon=draw(
            st.one_of(st.just(timedelta(days=365)), minutes_between(0, 4 * 24 * 60, 30))
        ),
    )

    # Half the windows start or end on a wall time the hours like to use, so
    # window edges often meet the edges of working time.
    def on_the_wall(day: date) -> datetime:
        moment = datetime.combine(day, draw(wall_times), tzinfo=provider_zone)
        return moment.astimezone(UTC)

    if draw(st.booleans()):
        start = on_the_wall(sunday + timedelta(days=draw(st.integers(-2, 1))))
    else:
        midnight = datetime.combine(sunday, time(0), tzinfo=UTC)
        start = midnight + draw(minutes_between(-36 * 60, 24 * 60))
    if draw(st.booleans()):
        start_day = start.astimezone(provider_zone).date()
        end = on_the_wall(start_day + timedelta(days=draw(st.integers(0, 1))))
        if end <= start:
            end = on_the_wall(start_day + timedelta(days=1))
    else:
        end = start + draw(minutes_between(0, 48 * 60))
    window_zone = ZoneInfo(draw(st.sampled_from([*PROPERTY_ZONES, AUCKLAND])))
    window = Interval(start.astimezone(window_zone), end.astimezone(window_zone))

    now = (
        start
        + draw(minutes_between(-36 * 60, 2 * 60))
        + timedelta(seconds=draw(st.sampled_from([0, 0, 1, 59])))
    )
    busy = [
        Interval(busy_start, busy_start + length)
        for busy_start, length in draw(
            st.lists(
                st.tuples(
                    minutes_between(-6 * 60, 48 * 60).map(lambda d: start + d),
                    five_minutes,
                ),
                max_size=4,
            )
        )
    ]
    return working, slot_rules, busy, window, now


def reference_free_slots(working, slot_rules, busy, window, now) -> list[Interval]:
    """Free slots found the slow, obvious way.

    Working time is a set of whole UTC minutes, filled from each date's wall
    spans over the dates the engine documents walking: from the day before
    the window's first local date to the day after its last. Each run of
    consecutive minutes is one stretch of work whose slots step from its
    first minute. Every candidate is then checked against every rule directly.
    """
    zone = ZoneInfo(working.zone)

    def minute(moment: datetime) -> int:
        return int((moment - EPOCH).total_seconds() // 60)

    def instant(minute_number: int) -> datetime:
        return EPOCH + timedelta(minutes=minute_number)

    working_minutes = set()
    day = window.start.astimezone(zone).date() - timedelta(days=1)
    while day <= window.end.astimezone(zone).date() + timedelta(days=1):
        spans = working.overrides.get(day, working.weekly.get(day.weekday(), ()))
        for wall_start, wall_end in spans:
            end_day = day + timedelta(days=0 if wall_end > wall_start else 1)
            start = datetime.combine(day, wall_start, tzinfo=zone)
            end = datetime.combine(end_day, wall_end, tzinfo=zone)
            working_minutes.update(range(minute(start), minute(end)))
        day += timedelta(days=1)

    runs = []
    for number in sorted(working_minutes):
        if runs and runs[-1][1] == number:
            runs[-1][1] = number + 1
        else:
            runs.append([number, number + 1])

    duration = slot_rules.duration
    found = []
    for first, after_last in runs:
        start, run_end = instant(first), instant(after_last)
        while start + duration <= run_end:
            held_from = start - slot_rules.buffer_before
            held_until = start + duration + slot_rules.buffer_after
            if (
                window.start <= start < window.end
                and start >= now + slot_rules.min_notice
                and start < now + slot_rules.horizon
                and all(b.end <= held_from or held_until <= b.start for b in busy)
            ):
                found.append(Interval(start, start + duration))
            start += slot_rules.step
    return sorted(found)


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_every_slot_obeys_every_rule(scenario):
    working, slot_rules, busy, window, now = scenario

    found = free_slots(working, slot_rules, busy, window, now)
    stretches = working_intervals(working, window)

    for slot in found:
        assert slot.end - slot.start == slot_rules.duration
        assert any(w.start <= slot.start and slot.end <= w.end for w in stretches)
        held = Interval(
            slot.start - slot_rules.buffer_before,
            slot.end + slot_rules.buffer_after,
        )
        assert not any(held.overlaps(b) for b in busy)
        assert window.start <= slot.start < window.end
        assert now + slot_rules.min_notice <= slot.start < now + slot_rules.horizon
    starts = [slot.start for slot in found]
    assert all(a < b for a, b in pairwise(starts))


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_free_slots_match_the_minute_by_minute_reference(scenario):
    working, slot_rules, busy, window, now = scenario

    assert free_slots(working, slot_rules, busy, window, now) == (
        reference_free_slots(working, slot_rules, busy, window, now)
    )


@settings(max_examples=200, deadline=None)
@given(scenarios(), st.floats(0, 1))
def test_cutting_a_windows_end_only_drops_the_later_starts(scenario, fraction):
    working, slot_rules, busy, window, now = scenario
    cut = window.start + (window.end - window.start) * fraction
    shorter = Interval(window.start, cut)

    whole = free_slots(working, slot_rules, busy, window, now)

    assert free_slots(working, slot_rules, busy, shorter, now) == [
        slot for slot in whole if slot.start < shorter.end
    ]


def test_an_interval_across_the_repeated_hour_compares_instants():
    # 25 October 2026 in Berlin: 02:05 summer time (00:05 UTC), then the
    # clocks go back and 02:00 comes again, in winter time (01:00 UTC).
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 10, 25, 2, 5, tzinfo=berlin)
    end = datetime(2026, 10, 25, 2, 0, fold=1, tzinfo=berlin)

    interval = Interval(start, end)

    assert (interval.start, interval.end) == (
        datetime(2026, 10, 25, 0, 5, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 0, tzinfo=UTC),
    )
    assert interval.overlaps(
        Interval(
            datetime(2026, 10, 25, 2, 30, fold=0, tzinfo=berlin),
            datetime(2026, 10, 25, 2, 40, fold=0, tzinfo=berlin),
        )
    )
