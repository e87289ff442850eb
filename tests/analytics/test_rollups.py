"""Rolling up settled days: when, what opens a day again, and that the
figures read from a roll-up are the figures counted from the rows."""

import io
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection, transaction

from carebook.analytics import figures as figures_module
from carebook.analytics.figures import compute_figures
from carebook.analytics.filters import FigureFilter
from carebook.analytics.models import DayCounts, DayDeclines, DayTakings, RolledUpDay
from carebook.analytics.rollups import drop_rollups, roll_up_days
from carebook.analytics.tasks import roll_up_days_every_hour
from carebook.audit.services import SYSTEM, WEBHOOK
from carebook.bookings import services
from carebook.bookings.models import Booking
from carebook.payments.models import Payment
from tests.analytics.conftest import NOW, pay, utc
from tests.factories import make_booking

NEW_YORK = ZoneInfo("America/New_York")
FRI, SAT, SUN, MON = (
    date(2026, 10, 30),
    date(2026, 10, 31),
    date(2026, 11, 1),
    date(2026, 11, 2),
)


def rolled_up():
    return sorted(RolledUpDay.objects.values_list("day", flat=True))


def figures(start=SAT, end=MON, zone=NEW_YORK, **narrowing):
    return compute_figures(FigureFilter(start, end, zone, **narrowing), now=NOW)


def figures_from_the_rows(**arguments):
    """Return the figures counted from the rows alone, every roll-up dropped."""
    drop_rollups()
    return figures(**arguments)


def lapsed_hold_with_a_payment(clinic):
    """Return a hold of Saturday 31 October that lapsed, and its open payment."""
    lapsed = make_booking(
        clinic.grace,
        clinic.consultation,
        utc(11, 5, 15),
        status=Booking.Status.EXPIRED,
        held_at=utc(10, 31, 18),
        currency="USD",
        price_amount=10000,
    )
    return lapsed, pay(lapsed, 10000, None, status=Payment.Status.PENDING)


def test_a_day_is_rolled_up_an_hour_after_it_ends(clinic):
    # Sunday 1 November ends at 05:00 UTC on Monday (midnight EST).
    assert roll_up_days(now=utc(11, 2, 5, 59, 59)) == 2
    assert rolled_up() == [FRI, SAT]

    assert roll_up_days(now=utc(11, 2, 6)) == 1
    assert rolled_up() == [FRI, SAT, SUN]


def stored_roll_ups():
    """Return every stored row of the roll-up, ids included, in order."""
    return [
        list(model.objects.order_by("pk").values())
        for model in (RolledUpDay, DayCounts, DayTakings, DayDeclines)
    ]


def test_rolling_up_again_rolls_up_nothing_and_changes_nothing(clinic):
    roll_up_days(now=NOW)
    stored = stored_roll_ups()

    assert roll_up_days(now=NOW + timedelta(minutes=5)) == 0
    assert stored_roll_ups() == stored
    # Three days. Friday: Ada's consultation. Saturday: Ada's follow-up and
    # consultation, Grace's consultations. Sunday: Ada's follow-up and
    # consultation, and Grace's consultations (appointments, and a refund).
    # Saturday's declines: two reasons for Grace's consultation, two for
    # Ada's.
    assert [len(rows) for rows in stored] == [3, 7, 6, 4]


def test_the_cells_hold_each_days_counts_and_sums(clinic):
    roll_up_days(now=NOW)

    cells = {
        (row.rolled_day.day, row.provider.slug, row.appointment_type.slug): (
            row.made,
            row.checkouts_started,
            row.checkouts_completed,
            row.tries,
            row.tries_succeeded,
            (row.confirmed, row.completed, row.no_show, row.cancelled),
        )
        for row in DayCounts.objects.filter(rolled_day__day__in=[SAT, SUN])
    }
    assert cells == {
        (SAT, "ada", "follow-up"): (1, 1, 1, 1, 1, (0, 0, 0, 0)),
        # Booking 1's appointment; booking 7, held and declined twice.
        (SAT, "ada", "consultation"): (0, 1, 0, 2, 0, (0, 1, 0, 0)),
        (SAT, "grace", "consultation"): (2, 2, 2, 4, 2, (0, 0, 0, 0)),
        # Booking 9, paid late and refunded, was never made.
        (SUN, "ada", "follow-up"): (0, 1, 0, 1, 1, (0, 0, 0, 0)),
        (SUN, "ada", "consultation"): (1, 1, 1, 1, 1, (0, 0, 0, 0)),
        # Bookings 3 (cancelled) and 4 (no-show) take place on Sunday.
        (SUN, "grace", "consultation"): (0, 0, 0, 0, 0, (0, 0, 1, 1)),
    }
    assert sorted(
        (
            row.rolled_day.day,
            row.provider.slug,
            row.appointment_type.slug,
            row.currency,
            row.taken,
            row.refunded,
        )
        for row in DayTakings.objects.all()
    ) == [
        (FRI, "ada", "consultation", "USD", 8000, 0),
        (SAT, "ada", "follow-up", "USD", 4500, 0),
        (SAT, "grace", "consultation", "USD", 20000, 0),
        (SUN, "ada", "consultation", "USD", 8000, 0),
        (SUN, "ada", "follow-up", "USD", 4500, 4500),
        (SUN, "grace", "consultation", "USD", 0, 5000),
    ]


def test_an_open_checkout_holds_its_day_back_until_it_ends(clinic):
    held = make_booking(
        clinic.ada,
        clinic.consultation,
        utc(11, 5, 15),
        status=Booking.Status.PENDING_PAYMENT,
        held_at=utc(10, 31, 18),
        currency="USD",
    )

    assert roll_up_days(now=NOW) == 2
    assert rolled_up() == [FRI, SUN]
    counted = figures()
    assert (counted.checkouts_started, counted.checkouts_completed) == (9, 5)

    Booking.objects.filter(pk=held.pk).update(status=Booking.Status.EXPIRED)
    assert roll_up_days(now=NOW) == 1
    assert rolled_up() == [FRI, SAT, SUN]
    assert figures() == counted


def test_a_late_payment_of_a_lapsed_hold_opens_its_day_again(clinic):
    lapsed, payment = lapsed_hold_with_a_payment(clinic)
    roll_up_days(now=NOW)
    before = figures()
    assert (before.checkouts_started, before.checkouts_completed) == (9, 5)

    services.settle_payment(payment.pk, "pi_late", WEBHOOK, now=NOW)

    assert Booking.objects.get(pk=lapsed.pk).status == Booking.Status.CONFIRMED
    assert rolled_up() == [FRI, SUN]
    after = figures()
    assert (after.checkouts_started, after.checkouts_completed) == (9, 6)
    assert [day.made for day in after.days] == [3, 1, 2]

    assert roll_up_days(now=NOW) == 1
    assert figures() == after


def test_marking_a_past_appointment_opens_its_day_again(clinic):
    roll_up_days(now=NOW)

    services.record_attendance(
        clinic.bookings[1], Booking.Status.NO_SHOW, SYSTEM, now=NOW
    )

    # Booking 1 was held and made on Friday; only its appointment moved.
    assert rolled_up() == [FRI, SUN]
    marked = figures()
    assert marked.days[0].appointments == {
        "confirmed": 0,
        "completed": 0,
        "no_show": 1,
        "cancelled": 0,
    }
    assert roll_up_days(now=NOW) == 1
    assert figures() == marked


def test_a_booking_saved_with_nothing_counted_changed_opens_no_day(clinic):
    roll_up_days(now=NOW)
    booking = clinic.bookings[3]

    booking.patient_name = "Patient renamed"
    booking.save()

    assert rolled_up() == [FRI, SAT, SUN]


def test_a_booking_written_into_a_rolled_up_day_opens_it(clinic):
    roll_up_days(now=NOW)

    make_booking(
        clinic.grace,
        clinic.consultation,
        utc(11, 5, 15),
        status=Booking.Status.EXPIRED,
        held_at=utc(11, 1, 18),
        currency="USD",
    )

    assert rolled_up() == [FRI, SAT]
    assert figures().checkouts_started == 9


def test_a_confirmation_on_days_not_rolled_up_opens_none_that_are(clinic):
    # Held on Monday for Thursday, confirmed on Monday: none of its days is
    # rolled up, and the drop it runs must touch none of the others.
    roll_up_days(now=NOW)
    booking = make_booking(
        clinic.ada,
        clinic.follow_up,
        utc(11, 5, 15),
        status=Booking.Status.PENDING_PAYMENT,
        held_at=NOW - timedelta(minutes=5),
        hold_expires_at=NOW + timedelta(minutes=5),
        currency="USD",
    )
    payment = pay(booking, 4500, None, status=Payment.Status.PENDING)

    services.settle_payment(payment.pk, "pi_recent", WEBHOOK, now=NOW)

    assert Booking.objects.get(pk=booking.pk).status == Booking.Status.CONFIRMED
    assert rolled_up() == [FRI, SAT, SUN]


@pytest.mark.parametrize(
    "narrowing",
    ["the whole practice", "ada", "grace", "consultation", "ada's follow-ups"],
)
@pytest.mark.parametrize(
    ("start", "end"), [(SAT, MON), (FRI, SUN), (SUN, SUN), (date(2026, 10, 1), MON)]
)
def test_rolled_up_figures_are_the_figures_counted_from_the_rows(
    clinic, narrowing, start, end
):
    arguments = {
        "the whole practice": {},
        "ada": {"provider_id": clinic.ada.pk},
        "grace": {"provider_id": clinic.grace.pk},
        "consultation": {"appointment_type_id": clinic.consultation.pk},
        "ada's follow-ups": {
            "provider_id": clinic.ada.pk,
            "appointment_type_id": clinic.follow_up.pk,
        },
    }[narrowing] | {"start": start, "end": end}
    roll_up_days(now=NOW)

    rolled = figures(**arguments)

    assert rolled == figures_from_the_rows(**arguments)


def test_roll_ups_in_a_zone_the_practice_left_are_dropped(clinic):
    roll_up_days(now=NOW)
    clinic.practice.timezone = "Europe/London"
    clinic.practice.save()
    london = ZoneInfo("Europe/London")

    assert roll_up_days(now=NOW) == 3
    assert set(RolledUpDay.objects.values_list("zone", flat=True)) == {"Europe/London"}
    assert rolled_up() == [FRI, SAT, SUN]
    rolled = figures(zone=london)
    assert rolled == figures_from_the_rows(zone=london)
    # Booking 2, made at 23:30 on Saturday in New York, was made at 03:30
    # on Sunday in London; booking 5 at 04:30 on Monday.
    assert [(day.day, day.made) for day in rolled.days] == [
        (SAT, 2),
        (SUN, 1),
        (MON, 2),
    ]


def test_the_command_rolls_up_and_can_count_every_day_again(clinic):
    output = io.StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("roll_up_figures", stdout=output)
        call_command("roll_up_figures", "--again", stdout=output)

    assert output.getvalue() == (
        "Rolled up 3 days.\nDropped the roll-ups of 3 days.\nRolled up 3 days.\n"
    )


def test_the_command_counts_one_day_as_one(clinic):
    output = io.StringIO()
    with time_machine.travel(utc(10, 31, 5), tick=False):
        call_command("roll_up_figures", stdout=output)

    # At 01:00 EDT on Saturday, Friday has just been over for an hour.
    assert output.getvalue() == "Rolled up 1 day.\n"


def test_nothing_is_rolled_up_without_a_practice_or_a_booking(db, practice):
    assert roll_up_days(now=NOW) == 0

    practice.delete()
    assert roll_up_days(now=NOW) == 0
    assert rolled_up() == []


@pytest.mark.django_db(transaction=True)
def test_a_late_payment_during_a_roll_up_opens_its_day_once_the_roll_up_ends(
    clinic,
):
    lapsed, payment = lapsed_hold_with_a_payment(clinic)
    rolling, paid = threading.Event(), threading.Event()

    def roll_up_and_wait():
        # The roll-up has counted Saturday without the payment and holds its
        # transaction open until the payment is waiting, or has gone through.
        try:
            with transaction.atomic():
                assert roll_up_days(now=NOW) == 3
                rolling.set()
                wait_for_a_lock_or(paid)
        finally:
            connection.close()

    def pay_late():
        rolling.wait(timeout=30)
        try:
            services.settle_payment(payment.pk, "pi_late", WEBHOOK, now=NOW)
        finally:
            paid.set()
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        for future in [pool.submit(roll_up_and_wait), pool.submit(pay_late)]:
            future.result(timeout=60)

    assert Booking.objects.get(pk=lapsed.pk).status == Booking.Status.CONFIRMED
    assert rolled_up() == [FRI, SUN]
    counted = figures()
    assert (counted.checkouts_started, counted.checkouts_completed) == (9, 6)


def wait_for_a_lock_or(done: threading.Event) -> None:
    """Return once another session waits for a lock, or `done` is set.

    SQLite's IMMEDIATE transactions make the payment wait at its start,
    which leaves no trace to look for: there the payment goes through
    after the roll-up's commit, or waits for it.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for _ in range(3000):
            # Activity is read once per transaction unless cleared.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            if cursor.fetchone()[0] or done.is_set():
                return
            done.wait(timeout=0.01)
    raise AssertionError("the late payment neither waited nor went through")


def test_the_job_worker_rolls_up_at_five_past_every_hour(clinic):
    assert [
        roll_up_days_every_hour.task_class().validate_datetime(utc(11, 2, hour, minute))
        for hour, minute in ((0, 5), (13, 5), (13, 4), (13, 6))
    ] == [True, True, False, False]

    with time_machine.travel(NOW, tick=False):
        assert roll_up_days_every_hour.call_local() == 3
    assert rolled_up() == [FRI, SAT, SUN]


@pytest.mark.django_db(transaction=True)
def test_figures_read_while_a_day_opens_again_are_those_of_one_moment(
    clinic, monkeypatch
):
    roll_up_days(now=NOW)
    before = figures()
    decided, changed = threading.Event(), threading.Event()
    count_live = figures_module.count_live

    def count_live_once_the_day_changed(*args, **kwargs):
        # The figures know by now that Saturday is rolled up. On PostgreSQL
        # the change commits before they read its cells; SQLite's IMMEDIATE
        # transaction makes the change wait for the figures instead.
        decided.set()
        if connection.vendor == "postgresql":
            changed.wait(timeout=30)
        return count_live(*args, **kwargs)

    monkeypatch.setattr(figures_module, "count_live", count_live_once_the_day_changed)

    def read():
        try:
            return figures()
        finally:
            connection.close()

    def mark():
        decided.wait(timeout=30)
        try:
            # Booking 1 takes place on Saturday: a no-show opens Saturday.
            services.record_attendance(
                clinic.bookings[1], Booking.Status.NO_SHOW, SYSTEM, now=NOW
            )
        finally:
            changed.set()
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        reading, marking = pool.submit(read), pool.submit(mark)
        marking.result(timeout=60)
        during = reading.result(timeout=60)

    assert rolled_up() == [FRI, SUN]
    assert during == before


def test_a_day_opened_again_years_back_is_rolled_up_with_the_newest(clinic):
    years_ago = timedelta(days=900)
    old = make_booking(
        clinic.ada,
        clinic.consultation,
        utc(10, 31, 14) - years_ago,
        status=Booking.Status.CONFIRMED,
        held_at=utc(10, 30, 14) - years_ago,
        confirmed_at=utc(10, 30, 14, 1) - years_ago,
        currency="USD",
    )
    Booking.objects.filter(pk=clinic.bookings[8].pk).update(
        status=Booking.Status.EXPIRED
    )
    # From Monday 13 May 2024, when it was held, to Sunday 1 November 2026.
    assert roll_up_days(now=NOW) == 903
    services.record_attendance(old, Booking.Status.NO_SHOW, SYSTEM, now=NOW)
    assert date(2024, 5, 14) not in rolled_up()

    # Its appointment's day and Monday 2 November, 902 days apart.
    assert roll_up_days(now=NOW + timedelta(days=1)) == 2
    assert RolledUpDay.objects.count() == 904
    old_day = {"start": date(2024, 5, 14), "end": date(2024, 5, 14)}
    assert figures(**old_day).status_totals["no_show"] == 1
    assert figures(**old_day) == figures_from_the_rows(**old_day)


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_roll_up_each_day_once(clinic):
    barrier = threading.Barrier(2)

    def run():
        try:
            barrier.wait(timeout=30)
            return roll_up_days(now=NOW)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        rolled = sorted(pool.map(lambda _: run(), range(2)))

    # The second waits for the first's lock, then finds nothing left.
    assert rolled == [0, 3]
    assert rolled_up() == [FRI, SAT, SUN]
    assert [len(rows) for rows in stored_roll_ups()] == [3, 7, 6, 4]
