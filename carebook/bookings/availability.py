"""Gather a provider's hours and busy time from the database for the engine."""

from collections import defaultdict
from datetime import timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from carebook.bookings.models import Booking
from carebook.calendars.busy import MAX_ROW_SPAN
from carebook.calendars.models import ImportedBusyTime
from carebook.practice.models import AppointmentType, Provider, TimeOff
from carebook.scheduling import Interval, SlotRules, WorkingHours, free_slots

# Hours of the day before a window may run past midnight into it, and busy
# time a little outside it can still touch a slot's buffers.
MARGIN = timedelta(days=1)


def working_hours_for(provider: Provider, window: Interval) -> WorkingHours:
    """Return the provider's weekly hours and the overrides near `window`."""
    weekly = defaultdict(list)
    for row in provider.weekly_hours.all():
        weekly[row.weekday].append((row.start_time, row.end_time))

    zone = ZoneInfo(provider.zone_name)
    first = (window.start - MARGIN).astimezone(zone).date()
    last = (window.end + MARGIN).astimezone(zone).date()
    overrides = defaultdict(list)
    for row in provider.date_overrides.filter(date__range=(first, last)):
        day = overrides[row.date]
        if row.start_time is not None:
            day.append((row.start_time, row.end_time))

    return WorkingHours(zone=provider.zone_name, weekly=weekly, overrides=overrides)


def slot_rules_for(appointment_type: AppointmentType) -> SlotRules:
    """Return the engine's rules for one appointment type at its practice."""
    practice = appointment_type.practice
    return SlotRules(
        duration=timedelta(minutes=appointment_type.duration_minutes),
        step=timedelta(minutes=practice.slot_step_minutes),
        buffer_before=timedelta(minutes=appointment_type.buffer_before_minutes),
        buffer_after=timedelta(minutes=appointment_type.buffer_after_minutes),
        min_notice=timedelta(minutes=practice.min_notice_minutes),
        horizon=timedelta(days=practice.horizon_days),
    )


def busy_intervals(
    provider: Provider, window: Interval, now, exclude_booking_id=None
) -> list[Interval]:
    """Return the provider's booked time, time off and imported busy time.

    Everything that overlaps `window` widened by MARGIN on both sides.
    """
    start, end = window.start - MARGIN, window.end + MARGIN

    bookings = (
        Booking.objects.filter(provider=provider)
        .holding_time(now)
        .overlapping(start, end)
        .exclude(pk=exclude_booking_id)
        .order_by()
        .values_list("blocked_start", "blocked_end")
    )
    time_off = (
        TimeOff.objects.filter(provider=provider, start__lt=end, end__gt=start)
        .order_by()
        .values_list("start", "end")
    )
    imported = (
        ImportedBusyTime.objects.filter(
            provider=provider,
            start__lt=end,
            end__gt=start,
            # Imports store no row longer than MAX_ROW_SPAN, which lets the
            # provider/start index bound the scan from below.
            start__gt=start - MAX_ROW_SPAN,
        )
        .order_by()
        .values_list("start", "end")
    )
    return [Interval(s, e) for s, e in (*bookings, *time_off, *imported)]


def find_free_slots(
    provider: Provider,
    appointment_type: AppointmentType,
    window: Interval,
    now=None,
    exclude_booking_id=None,
) -> list[Interval]:
    """Return the provider's free slots for an appointment type in `window`."""
    now = now or timezone.now()
    return free_slots(
        working_hours_for(provider, window),
        slot_rules_for(appointment_type),
        busy_intervals(provider, window, now, exclude_booking_id),
        window,
        now,
    )


def is_free_slot(
    provider: Provider,
    appointment_type: AppointmentType,
    start,
    now=None,
    exclude_booking_id=None,
) -> bool:
    """Return whether an appointment may start at exactly `start`."""
    window = Interval(start, start + timedelta(microseconds=1))
    slots = find_free_slots(provider, appointment_type, window, now, exclude_booking_id)
    return bool(slots) and slots[0].start == start


def has_working_time(
    provider: Provider, appointment_type: AppointmentType, window: Interval, now=None
) -> bool:
    """Return whether the provider works any slot of the type in `window`.

    Bookings and busy time are left out: this asks whether a slot could
    ever come free there, not whether one is free now.
    """
    now = now or timezone.now()
    slots = free_slots(
        working_hours_for(provider, window),
        slot_rules_for(appointment_type),
        [],
        window,
        now,
    )
    return bool(slots)
