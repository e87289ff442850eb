"""Loading a practice, its providers and their hours from a practice file."""

import os
import subprocess
import sys
from datetime import UTC, date, datetime, time
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from carebook.audit.models import AuditEntry
from carebook.payments.policy import CancellationPolicy
from carebook.practice import loading
from carebook.practice.loading import load_practice
from carebook.practice.models import (
    AppointmentType,
    DateOverride,
    Practice,
    Provider,
    Service,
    TimeOff,
    WeeklyHours,
)
from carebook.practice.practice_file import PracticeFileError

pytestmark = pytest.mark.usefixtures("db")

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "demo" / "practice.yaml"
MODELS = (
    Practice,
    AppointmentType,
    Provider,
    Service,
    WeeklyHours,
    DateOverride,
    TimeOff,
)
NO_ROWS = {model.__name__: 0 for model in MODELS}

# Line numbers in the expected errors below count from "practice:" as line 1.
SMALL = """\
practice:
  slug: lakeside
  name: Lakeside Clinic
  timezone: Europe/Dublin
  currency: EUR
  locale: en_IE
appointment_types:
  - slug: consultation
    name: Consultation
    duration_minutes: 30
    buffer_after_minutes: 10
providers:
  - slug: ann-lee
    name: Dr Ann Lee
    specialty: General practice
    services: {consultation: "80.00"}
    hours:
      mon: [["09:00", "12:30"], ["13:30", "17:00"]]
    overrides:
      - {date: 2026-12-24, hours: [["09:00", "12:00"]]}
      - {date: 2026-12-25, hours: []}
    time_off:
      - {start: "2027-01-04 08:00", end: "2027-01-08 18:00"}
"""

SECOND_PROVIDER = """\
  - slug: bea-cole
    name: Bea Cole
    specialty: Physiotherapy
    services: {consultation: "60.00"}
    hours:
      tue: [["10:00", "14:00"]]
"""


def edited(text: str, *replacements: tuple[str, str]) -> str:
    """Return `text` with each (old, new) replaced once, failing if absent."""
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def snapshot() -> dict[str, list[dict]]:
    """Return every practice row, so two states can be compared whole."""
    return {
        model.__name__: list(model.objects.order_by("pk").values()) for model in MODELS
    }


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


def load_demo():
    return load_practice(DEMO.read_text(), "demo/practice.yaml")


def provider(slug: str) -> Provider:
    return Provider.objects.get(slug=slug)


def service(provider_slug: str, type_slug: str) -> Service:
    return Service.objects.get(
        provider__slug=provider_slug, appointment_type__slug=type_slug
    )


def price(provider_slug: str, type_slug: str) -> int:
    return service(provider_slug, type_slug).price_amount


def cancellation(type_slug: str) -> tuple[int | None, int | None]:
    """Return an appointment type's own policy, as stored."""
    appointment_type = AppointmentType.objects.get(slug=type_slug)
    return (
        appointment_type.free_cancellation_hours,
        appointment_type.late_cancellation_fee_percent,
    )


# --- The demo file ------------------------------------------------------------


def test_demo_file_creates_every_row_it_lists():
    result = load_demo()

    assert counts() == {
        "Practice": 1,
        "AppointmentType": 5,
        "Provider": 8,
        "Service": 19,
        "WeeklyHours": 66,
        "DateOverride": 28,
        "TimeOff": 7,
    }
    assert dict(result.created) == {
        "practice": 1,
        "appointment types": 5,
        "providers": 8,
        "services": 19,
        "weekly hours": 66,
        "date overrides": 28,
        "time off": 7,
    }
    assert not result.updated
    assert not result.deleted


def test_demo_practice_has_its_zone_currency_locale_and_rules():
    load_demo()

    practice = Practice.objects.get()
    assert (practice.slug, practice.name) == (
        "harbourside",
        "Harbourside Health Centre",
    )
    assert (practice.timezone, practice.currency, practice.locale) == (
        "Europe/Dublin",
        "EUR",
        "en_IE",
    )
    assert (
        practice.min_notice_minutes,
        practice.horizon_days,
        practice.slot_step_minutes,
    ) == (120, 60, 15)
    assert (practice.cancel_cutoff_hours, practice.reschedule_cutoff_hours) == (2, 24)


def test_demo_specialties_and_zones():
    load_demo()

    specialties = sorted(set(Provider.objects.values_list("specialty", flat=True)))
    assert specialties == [
        "Dermatology",
        "General practice",
        "General practice (video)",
        "Paediatrics",
        "Physiotherapy",
    ]
    assert provider("roisin-hayes").timezone == "America/New_York"
    assert provider("aoife-byrne").timezone == ""
    assert provider("aoife-byrne").zone_name == "Europe/Dublin"


def test_demo_prices_are_stored_in_cents():
    load_demo()

    assert price("fiona-gallagher", "extended-assessment") == 22000
    assert price("ciaran-oshea", "consultation") == 7500
    assert price("aoife-byrne", "consultation") == 8000
    assert price("roisin-hayes", "video-consultation") == 6000


def test_demo_physiotherapy_sessions_take_a_deposit_and_nothing_else_does():
    load_demo()

    with_deposit = Service.objects.filter(deposit_amount__isnull=False)
    assert sorted(
        with_deposit.values_list(
            "provider__slug",
            "appointment_type__slug",
            "price_amount",
            "deposit_amount",
        )
    ) == [
        ("declan-murphy", "physiotherapy-session", 7000, 2000),
        ("sinead-walsh", "physiotherapy-session", 6500, 2000),
    ]
    assert Service.objects.filter(deposit_amount__isnull=True).count() == 17


def test_demo_practice_cancellation_policy_is_24_hours_then_half():
    load_demo()

    practice = Practice.objects.get()
    assert (
        practice.free_cancellation_hours,
        practice.late_cancellation_fee_percent,
    ) == (24, 50)
    # Only the extended assessment sets its own window; its fee is the
    # practice's.
    assert cancellation("extended-assessment") == (48, None)
    for slug in (
        "consultation",
        "follow-up",
        "physiotherapy-session",
        "video-consultation",
    ):
        assert cancellation(slug) == (None, None)


def test_demo_policies_as_the_refund_rules_read_them():
    load_demo()

    def policy(slug):
        return CancellationPolicy.for_appointment(
            AppointmentType.objects.get(slug=slug)
        )

    assert policy("extended-assessment") == CancellationPolicy(48, 50)
    assert policy("consultation") == CancellationPolicy(24, 50)


def test_demo_appointment_type_keeps_its_buffers():
    load_demo()

    assessment = AppointmentType.objects.get(slug="extended-assessment")
    assert (
        assessment.duration_minutes,
        assessment.buffer_before_minutes,
        assessment.buffer_after_minutes,
    ) == (60, 5, 10)


def test_demo_weekly_hours_keep_the_lunch_break_and_saturday():
    load_demo()

    def rows(slug, weekday):
        return list(
            WeeklyHours.objects.filter(provider__slug=slug, weekday=weekday)
            .order_by("start_time")
            .values_list("start_time", "end_time")
        )

    assert rows("aoife-byrne", 0) == [
        (time(9, 0), time(12, 30)),
        (time(13, 30), time(17, 0)),
    ]
    assert rows("ciaran-oshea", 5) == [(time(9, 0), time(13, 0))]
    assert rows("ciaran-oshea", 0) == []


def test_demo_overrides_close_dates_and_shorten_others():
    load_demo()

    overrides = list(
        DateOverride.objects.filter(provider__slug="aoife-byrne")
        .order_by("date")
        .values_list("date", "start_time", "end_time")
    )
    assert overrides == [
        (date(2026, 12, 24), time(9, 0), time(12, 0)),
        (date(2026, 12, 25), None, None),
        (date(2026, 12, 31), time(9, 0), time(13, 0)),
        (date(2027, 1, 1), None, None),
    ]


def test_demo_time_off_in_new_york_is_stored_as_utc():
    load_demo()

    off = TimeOff.objects.get(provider__slug="roisin-hayes")
    # 08:00 and 17:00 in New York in January (EST, UTC-5).
    assert (off.start, off.end, off.reason) == (
        datetime(2027, 1, 11, 13, 0, tzinfo=UTC),
        datetime(2027, 1, 11, 22, 0, tzinfo=UTC),
        "Training",
    )


def test_demo_whole_date_time_off_covers_its_last_day_in_summer_time():
    load_demo()

    off = TimeOff.objects.get(provider__slug="fiona-gallagher", reason="Annual leave")
    # 2027-07-05 to 2027-07-16 inclusive, in Dublin on summer time (UTC+1).
    assert (off.start, off.end) == (
        datetime(2027, 7, 4, 23, 0, tzinfo=UTC),
        datetime(2027, 7, 16, 23, 0, tzinfo=UTC),
    )


def test_loading_writes_one_audit_entry():
    load_demo()

    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor_kind) == ("practice.loaded", "system")
    assert entry.object_id == str(Practice.objects.get().pk)
    assert entry.changes["source"] == "demo/practice.yaml"
    assert entry.changes["created"]["providers"] == 8


# --- Updates ------------------------------------------------------------------


def test_reloading_the_same_file_changes_nothing():
    load_demo()
    before = snapshot()
    # The snapshot holds every column, the policy and deposits included.
    assert [row["deposit_amount"] for row in before["Service"]].count(2000) == 2
    assert before["Practice"][0]["late_cancellation_fee_percent"] == 50

    result = load_demo()

    assert snapshot() == before
    assert not result.is_changed
    assert result.summary() == (
        'Practice "harbourside" is already up to date; nothing changed.'
    )
    assert AuditEntry.objects.count() == 1


def test_updated_file_changes_a_price_and_deactivates_a_removed_provider():
    load_practice(SMALL + SECOND_PROVIDER, "clinic.yaml")
    bea = provider("bea-cole")

    result = load_practice(
        edited(SMALL, ('{consultation: "80.00"}', '{consultation: "85.50"}')),
        "clinic.yaml",
    )

    assert price("ann-lee", "consultation") == 8550
    bea.refresh_from_db()
    assert bea.is_active is False
    # Bookings may point at her, so she and her schedule stay.
    assert bea.weekly_hours.count() == 1
    assert bea.services.count() == 1
    assert dict(result.updated) == {"services": 1}
    assert result.deactivated_providers == ["bea-cole"]
    assert not result.created
    assert not result.deleted


def test_provider_listed_again_is_reactivated():
    load_practice(SMALL + SECOND_PROVIDER, "clinic.yaml")
    load_practice(SMALL, "clinic.yaml")

    result = load_practice(SMALL + SECOND_PROVIDER, "clinic.yaml")

    assert provider("bea-cole").is_active is True
    assert dict(result.updated) == {"providers": 1}


def test_file_replaces_hours_overrides_time_off_and_services():
    two_types = edited(
        SMALL,
        (
            "providers:\n",
            "  - slug: follow-up\n"
            "    name: Follow-up\n"
            "    duration_minutes: 15\n"
            "providers:\n",
        ),
        (
            '{consultation: "80.00"}',
            '{consultation: "80.00", follow-up: "40.00"}',
        ),
    )
    load_practice(two_types, "clinic.yaml")
    ann = provider("ann-lee")

    result = load_practice(
        edited(
            SMALL,
            ('["13:30", "17:00"]', '["14:00", "17:00"]'),
            ("      - {date: 2026-12-25, hours: []}\n", ""),
            ('end: "2027-01-08 18:00"', 'end: "2027-01-07 18:00"'),
        ),
        "clinic.yaml",
    )

    assert list(ann.weekly_hours.values_list("start_time", "end_time")) == [
        (time(9, 0), time(12, 30)),
        (time(14, 0), time(17, 0)),
    ]
    assert list(ann.date_overrides.values_list("date", flat=True)) == [
        date(2026, 12, 24)
    ]
    assert list(ann.time_off.values_list("end", flat=True)) == [
        datetime(2027, 1, 7, 18, 0, tzinfo=UTC)
    ]
    assert list(ann.services.values_list("appointment_type__slug", flat=True)) == [
        "consultation"
    ]
    # An appointment type missing from the file is kept for its bookings.
    assert AppointmentType.objects.filter(slug="follow-up").exists()
    assert result.unlisted_appointment_types == ["follow-up"]
    assert dict(result.created) == {"weekly hours": 1, "time off": 1}
    assert dict(result.deleted) == {
        "services": 1,
        "weekly hours": 1,
        "date overrides": 1,
        "time off": 1,
    }


def test_end_of_24_00_is_stored_as_midnight():
    load_practice(
        edited(SMALL, ('["13:30", "17:00"]', '["20:00", "24:00"]')), "clinic.yaml"
    )

    assert list(
        WeeklyHours.objects.order_by("start_time").values_list("start_time", "end_time")
    ) == [(time(9, 0), time(12, 30)), (time(20, 0), time(0, 0))]


def test_yen_prices_are_stored_as_whole_yen():
    load_practice(
        edited(
            SMALL,
            ("currency: EUR", "currency: JPY"),
            ("locale: en_IE", "locale: ja_JP"),
            ("timezone: Europe/Dublin", "timezone: Asia/Tokyo"),
            ('"80.00"', "4500"),
        ),
        "clinic.yaml",
    )

    assert price("ann-lee", "consultation") == 4500


def test_practice_without_booking_rules_gets_the_model_defaults():
    load_practice(SMALL, "clinic.yaml")

    practice = Practice.objects.get()
    assert (
        practice.min_notice_minutes,
        practice.horizon_days,
        practice.slot_step_minutes,
        practice.cancel_cutoff_hours,
        practice.reschedule_cutoff_hours,
    ) == (120, 60, 15, 0, 0)


def test_file_without_policy_or_deposits_gets_the_model_defaults():
    load_practice(SMALL, "clinic.yaml")

    practice = Practice.objects.get()
    assert (
        practice.free_cancellation_hours,
        practice.late_cancellation_fee_percent,
    ) == (24, 100)
    assert cancellation("consultation") == (None, None)
    assert service("ann-lee", "consultation").deposit_amount is None


def test_appointment_type_policy_keys_are_each_optional_and_zero_is_kept():
    load_practice(
        edited(
            SMALL,
            (
                "  locale: en_IE\n",
                "  locale: en_IE\n  cancellation: {late_fee_percent: 50}\n",
            ),
            (
                "    buffer_after_minutes: 10\n",
                "    buffer_after_minutes: 10\n"
                "    cancellation: {late_fee_percent: 0}\n",
            ),
        ),
        "clinic.yaml",
    )

    practice = Practice.objects.get()
    assert (
        practice.free_cancellation_hours,
        practice.late_cancellation_fee_percent,
    ) == (24, 50)
    assert cancellation("consultation") == (None, 0)


WITH_POLICY_AND_DEPOSIT = edited(
    SMALL,
    (
        "  locale: en_IE\n",
        "  locale: en_IE\n  cancellation: {free_hours: 12, late_fee_percent: 50}\n",
    ),
    (
        "    buffer_after_minutes: 10\n",
        "    buffer_after_minutes: 10\n"
        "    cancellation: {free_hours: 48, late_fee_percent: 100}\n",
    ),
    ('{consultation: "80.00"}', '{consultation: {price: "80.00", deposit: "20.00"}}'),
)


def test_removing_a_deposit_clears_it_and_keeps_the_service_row():
    load_practice(WITH_POLICY_AND_DEPOSIT, "clinic.yaml")
    before = service("ann-lee", "consultation")
    assert (before.price_amount, before.deposit_amount) == (8000, 2000)

    result = load_practice(
        edited(
            WITH_POLICY_AND_DEPOSIT,
            ('{price: "80.00", deposit: "20.00"}', '"80.00"'),
        ),
        "clinic.yaml",
    )

    after = service("ann-lee", "consultation")
    assert (after.pk, after.price_amount, after.deposit_amount) == (
        before.pk,
        8000,
        None,
    )
    assert dict(result.updated) == {"services": 1}
    assert not result.created
    assert not result.deleted


def test_changing_only_a_deposit_updates_the_service():
    load_practice(WITH_POLICY_AND_DEPOSIT, "clinic.yaml")

    result = load_practice(
        edited(WITH_POLICY_AND_DEPOSIT, ('deposit: "20.00"', "deposit: 25")),
        "clinic.yaml",
    )

    assert service("ann-lee", "consultation").deposit_amount == 2500
    assert dict(result.updated) == {"services": 1}


def test_file_without_policies_or_deposit_returns_to_defaults_and_nulls():
    load_practice(WITH_POLICY_AND_DEPOSIT, "clinic.yaml")
    assert cancellation("consultation") == (48, 100)

    result = load_practice(SMALL, "clinic.yaml")

    practice = Practice.objects.get()
    assert (
        practice.free_cancellation_hours,
        practice.late_cancellation_fee_percent,
    ) == (24, 100)
    # NULL: the type follows the practice again.
    assert cancellation("consultation") == (None, None)
    assert service("ann-lee", "consultation").deposit_amount is None
    assert dict(result.updated) == {
        "practice": 1,
        "appointment types": 1,
        "services": 1,
    }


def test_reloading_a_file_with_policy_and_deposit_changes_nothing():
    load_practice(WITH_POLICY_AND_DEPOSIT, "clinic.yaml")
    before = snapshot()

    result = load_practice(WITH_POLICY_AND_DEPOSIT, "clinic.yaml")

    assert snapshot() == before
    assert not result.is_changed
    assert AuditEntry.objects.count() == 1


def test_yen_deposit_is_stored_as_whole_yen():
    load_practice(
        edited(
            SMALL,
            ("currency: EUR", "currency: JPY"),
            ('"80.00"', '{price: "4500", deposit: "1000.00"}'),
        ),
        "clinic.yaml",
    )

    consultation = service("ann-lee", "consultation")
    assert (consultation.price_amount, consultation.deposit_amount) == (4500, 1000)


# --- Bad files ----------------------------------------------------------------


def with_practice_cancellation(value: str) -> str:
    """Return SMALL with the practice's `cancellation:` on line 7."""
    return edited(
        SMALL, ("  locale: en_IE\n", f"  locale: en_IE\n  cancellation: {value}\n")
    )


def with_type_cancellation(value: str) -> str:
    """Return SMALL with the appointment type's `cancellation:` on line 12."""
    return edited(
        SMALL,
        (
            "    buffer_after_minutes: 10\n",
            f"    buffer_after_minutes: 10\n    cancellation: {value}\n",
        ),
    )


def with_service(value: str) -> str:
    """Return SMALL with the consultation, on line 16, written as `value`."""
    return edited(SMALL, ('{consultation: "80.00"}', f"{{consultation: {value}}}"))


BAD_FILES = {
    "bad zone": (
        edited(SMALL, ("timezone: Europe/Dublin", "timezone: Europe/Dubln")),
        ['clinic.yaml:4: practice.timezone: "Europe/Dubln" is not an IANA time zone'],
    ),
    "bad currency": (
        edited(SMALL, ("currency: EUR", "currency: EURO")),
        ['clinic.yaml:5: practice.currency: "EURO" is not an ISO 4217 currency code'],
    ),
    "bad locale": (
        edited(SMALL, ("locale: en_IE", "locale: en_XX")),
        ['clinic.yaml:6: practice.locale: "en_XX" is not a locale Babel knows'],
    ),
    "price with a tenth of a cent": (
        edited(SMALL, ('"80.00"', '"80.001"')),
        [
            "clinic.yaml:16: providers[0].services.consultation: "
            'price "80.001" has more decimal places than EUR allows (2)'
        ],
    ),
    "yen price with decimals": (
        edited(SMALL, ("currency: EUR", "currency: JPY"), ('"80.00"', '"4500.50"')),
        [
            "clinic.yaml:16: providers[0].services.consultation: "
            'price "4500.50" has more decimal places than JPY allows (0)'
        ],
    ),
    "negative price": (
        edited(SMALL, ('"80.00"', "-5")),
        ['clinic.yaml:16: providers[0].services.consultation: price "-5" is negative'],
    ),
    "typo in a key": (
        edited(SMALL, ("buffer_after_minutes", "buffer_afer_minutes")),
        [
            "clinic.yaml:11: appointment_types[0].buffer_afer_minutes: "
            'unknown key "buffer_afer_minutes" (did you mean "buffer_after_minutes"?)'
        ],
    ),
    "end time past midnight": (
        edited(SMALL, ('["13:30", "17:00"]', '["13:30", "25:00"]')),
        [
            "clinic.yaml:18: providers[0].hours.mon[1]: "
            'end time "25:00" is not a valid time HH:MM'
        ],
    ),
    "end before start": (
        edited(SMALL, ('["13:30", "17:00"]', '["13:30", "07:00"]')),
        [
            "clinic.yaml:18: providers[0].hours.mon[1]: end time "
            '"07:00" is not after start time "13:30" (write "24:00" for midnight)'
        ],
    ),
    "overlapping hours": (
        edited(SMALL, ('["13:30", "17:00"]', '["12:00", "17:00"]')),
        [
            'clinic.yaml:18: providers[0].hours.mon: ["12:00", "17:00"] '
            'overlaps ["09:00", "12:30"]'
        ],
    ),
    "unknown weekday": (
        edited(SMALL, ("      mon:", "      monday:")),
        [
            "clinic.yaml:18: providers[0].hours.monday: "
            'unknown key "monday" (did you mean "mon"?)'
        ],
    ),
    "unknown appointment type in services": (
        edited(SMALL, ("{consultation:", "{consultaton:")),
        [
            "clinic.yaml:16: providers[0].services.consultaton: unknown "
            'appointment type "consultaton" (appointment_types has: consultation)'
        ],
    ),
    "yaml syntax error": (
        edited(SMALL, ('"17:00"]]', '"17:00"]')),
        [
            "clinic.yaml:19: expected ',' or ']', but got '<scalar>' "
            "(while parsing a flow sequence on line 18)"
        ],
    ),
    "duplicate provider slug": (
        SMALL + SECOND_PROVIDER.replace("slug: bea-cole", "slug: ann-lee"),
        [
            'clinic.yaml:24: providers[1].slug: slug "ann-lee" is already given in '
            "providers[0]"
        ],
    ),
    "override date given twice": (
        edited(SMALL, ("date: 2026-12-25", "date: 2026-12-24")),
        [
            "clinic.yaml:21: providers[0].overrides[1].date: "
            'date "2026-12-24" is already given in providers[0].overrides[0]'
        ],
    ),
    "key written twice": (
        edited(SMALL, ("    hours:\n", "    hours:\n      tue: []\n      tue: []\n")),
        ['clinic.yaml:19: providers[0].hours: key "tue" appears twice'],
    ),
    "time off ending before it starts": (
        edited(SMALL, ('end: "2027-01-08 18:00"', 'end: "2027-01-03"')),
        [
            "clinic.yaml:23: providers[0].time_off[0]: "
            'end "2027-01-03" is not after start "2027-01-04 08:00"'
        ],
    ),
    "time off in a wrong format": (
        edited(SMALL, ('start: "2027-01-04 08:00"', 'start: "04/01/2027 08:00"')),
        [
            "clinic.yaml:23: providers[0].time_off[0].start: "
            '"04/01/2027 08:00" is not a date and time "YYYY-MM-DD HH:MM" '
            'or a date "YYYY-MM-DD"'
        ],
    ),
    "impossible override date": (
        edited(SMALL, ("date: 2026-12-25", "date: 2026-02-30")),
        [
            "clinic.yaml:21: providers[0].overrides[1].date: "
            'date "2026-02-30" is not a valid date YYYY-MM-DD'
        ],
    ),
    "time off ending in the year 9999": (
        edited(SMALL, ('end: "2027-01-08 18:00"', 'end: "9999-12-31"')),
        [
            "clinic.yaml:23: providers[0].time_off[0].end: "
            'date "9999-12-31" is outside the dates Carebook handles '
            "(2000-01-01 to 2199-12-31)"
        ],
    ),
    "override in the year 1": (
        edited(SMALL, ("date: 2026-12-25", "date: 0001-12-25")),
        [
            "clinic.yaml:21: providers[0].overrides[1].date: "
            'date "0001-12-25" is outside the dates Carebook handles '
            "(2000-01-01 to 2199-12-31)"
        ],
    ),
    "appointment longer than a day": (
        edited(SMALL, ("duration_minutes: 30", "duration_minutes: 1435")),
        [
            "clinic.yaml:8: appointment_types[0]: duration_minutes plus buffers "
            "is 1445 minutes, more than 24 hours (1440)"
        ],
    ),
    "slot step under five minutes": (
        edited(
            SMALL,
            (
                "  locale: en_IE\n",
                "  locale: en_IE\n  booking_rules:\n    slot_step_minutes: 3\n",
            ),
        ),
        ["clinic.yaml:8: practice.booking_rules.slot_step_minutes: must be at least 5"],
    ),
    "negative cancel cut-off": (
        edited(
            SMALL,
            (
                "  locale: en_IE\n",
                "  locale: en_IE\n  booking_rules:\n    cancel_cutoff_hours: -2\n",
            ),
        ),
        [
            "clinic.yaml:8: practice.booking_rules.cancel_cutoff_hours: "
            "must be at least 0"
        ],
    ),
    "duration given as text": (
        edited(SMALL, ("duration_minutes: 30", 'duration_minutes: "30"')),
        [
            "clinic.yaml:10: appointment_types[0].duration_minutes: "
            'expected a whole number, got "30"'
        ],
    ),
    "missing name": (
        edited(SMALL, ("    name: Dr Ann Lee\n", "")),
        ['clinic.yaml:13: providers[0]: missing required key "name"'],
    ),
    "late fee over 100 percent": (
        with_practice_cancellation("{late_fee_percent: 150}"),
        ["clinic.yaml:7: practice.cancellation.late_fee_percent: must be at most 100"],
    ),
    "negative free hours": (
        with_practice_cancellation("{free_hours: -1}"),
        ["clinic.yaml:7: practice.cancellation.free_hours: must be at least 0"],
    ),
    "free hours over a year": (
        with_practice_cancellation("{free_hours: 9000}"),
        ["clinic.yaml:7: practice.cancellation.free_hours: must be at most 8760"],
    ),
    "free hours given as text": (
        with_practice_cancellation('{free_hours: "24"}'),
        [
            "clinic.yaml:7: practice.cancellation.free_hours: "
            'expected a whole number, got "24"'
        ],
    ),
    "typo in a cancellation key": (
        with_practice_cancellation("\n    free_hours: 24\n    late_fee: 50"),
        [
            "clinic.yaml:9: practice.cancellation.late_fee: "
            'unknown key "late_fee" (did you mean "late_fee_percent"?)'
        ],
    ),
    "appointment type late fee below 0 percent": (
        with_type_cancellation("{free_hours: 48, late_fee_percent: -10}"),
        [
            "clinic.yaml:12: appointment_types[0].cancellation.late_fee_percent: "
            "must be at least 0"
        ],
    ),
    "appointment type late fee with a fraction": (
        with_type_cancellation("\n      free_hours: 48\n      late_fee_percent: 12.5"),
        [
            "clinic.yaml:14: appointment_types[0].cancellation.late_fee_percent: "
            "expected a whole number, got 12.5"
        ],
    ),
    "appointment type negative free hours": (
        with_type_cancellation("{free_hours: -48}"),
        [
            "clinic.yaml:12: appointment_types[0].cancellation.free_hours: "
            "must be at least 0"
        ],
    ),
    "deposit above the price": (
        with_service('{price: "80.00", deposit: "90"}'),
        [
            "clinic.yaml:16: providers[0].services.consultation.deposit: "
            'deposit "90.00" is more than the price "80.00"'
        ],
    ),
    "deposit with a tenth of a cent, on its own line": (
        edited(
            SMALL,
            (
                '{consultation: "80.00"}',
                '\n      consultation:\n        price: "80.00"\n'
                '        deposit: "20.001"',
            ),
        ),
        [
            "clinic.yaml:19: providers[0].services.consultation.deposit: "
            'deposit "20.001" has more decimal places than EUR allows (2)'
        ],
    ),
    "yen deposit with decimals": (
        edited(
            with_service('{price: "4500", deposit: "1000.50"}'),
            ("currency: EUR", "currency: JPY"),
        ),
        [
            "clinic.yaml:16: providers[0].services.consultation.deposit: "
            'deposit "1000.50" has more decimal places than JPY allows (0)'
        ],
    ),
    "deposit of zero": (
        with_service('{price: "80.00", deposit: "0.00"}'),
        [
            "clinic.yaml:16: providers[0].services.consultation.deposit: "
            'deposit "0.00" must be more than zero'
        ],
    ),
    "negative deposit": (
        with_service('{price: "80.00", deposit: -20}'),
        [
            "clinic.yaml:16: providers[0].services.consultation.deposit: "
            'deposit "-20" is negative'
        ],
    ),
    "deposit on a free service": (
        with_service('{price: 0, deposit: "10.00"}'),
        [
            "clinic.yaml:16: providers[0].services.consultation.deposit: "
            'deposit "10.00" is more than the price "0.00"'
        ],
    ),
    "deposit without a price": (
        with_service('{deposit: "20.00"}'),
        [
            "clinic.yaml:16: providers[0].services.consultation: "
            'missing required key "price"'
        ],
    ),
    "price in the mapping with a tenth of a cent": (
        with_service('{price: "80.001", deposit: "20.00"}'),
        [
            "clinic.yaml:16: providers[0].services.consultation.price: "
            'price "80.001" has more decimal places than EUR allows (2)'
        ],
    ),
    "typo in a service key": (
        with_service('{price: "80.00", depsit: "20.00"}'),
        [
            "clinic.yaml:16: providers[0].services.consultation.depsit: "
            'unknown key "depsit" (did you mean "deposit"?)'
        ],
    ),
}


@pytest.mark.parametrize(("text", "expected"), BAD_FILES.values(), ids=BAD_FILES.keys())
def test_bad_file_names_the_line_and_key_and_changes_nothing(text, expected):
    load_practice(SMALL, "clinic.yaml")
    before = snapshot()

    with pytest.raises(PracticeFileError) as caught:
        load_practice(text, "clinic.yaml")

    assert caught.value.messages == expected
    assert snapshot() == before
    assert AuditEntry.objects.count() == 1


def test_every_problem_is_reported_at_once_in_file_order():
    text = edited(
        SMALL,
        ("timezone: Europe/Dublin", "timezone: Europe/Dubln"),
        ("specialty: General practice", "specialy: General practice"),
        ('["13:30", "17:00"]', '["13:30", "25:00"]'),
        ('end: "2027-01-08 18:00"', 'end: "2027-01-03 18:00"'),
    )

    with pytest.raises(PracticeFileError) as caught:
        load_practice(text, "clinic.yaml")

    assert caught.value.messages == [
        'clinic.yaml:4: practice.timezone: "Europe/Dubln" is not an IANA time zone',
        'clinic.yaml:13: providers[0]: missing required key "specialty"',
        "clinic.yaml:15: providers[0].specialy: "
        'unknown key "specialy" (did you mean "specialty"?)',
        "clinic.yaml:18: providers[0].hours.mon[1]: "
        'end time "25:00" is not a valid time HH:MM',
        "clinic.yaml:23: providers[0].time_off[0]: "
        'end "2027-01-03 18:00" is not after start "2027-01-04 08:00"',
    ]
    assert counts() == NO_ROWS


def test_time_off_across_the_spring_clock_change_must_still_end_after_it_starts():
    text = edited(
        SMALL,
        ('start: "2027-01-04 08:00"', 'start: "2027-03-28 01:30"'),
        ('end: "2027-01-08 18:00"', 'end: "2027-03-28 02:10"'),
    )

    with pytest.raises(PracticeFileError) as caught:
        load_practice(text, "clinic.yaml")

    # 01:30 does not exist that night and is read as 01:30 UTC; 02:10 is
    # 01:10 UTC.
    assert caught.value.messages == [
        "clinic.yaml:23: providers[0].time_off[0]: end "
        '"2027-03-28 02:10" is not after start "2027-03-28 01:30" in '
        "Europe/Dublin (a daylight-saving change falls between)"
    ]


def test_empty_file_is_refused():
    with pytest.raises(PracticeFileError) as caught:
        load_practice("# nothing yet\n", "clinic.yaml")

    assert caught.value.messages == ["clinic.yaml:1: the file is empty"]


def test_failure_while_saving_leaves_nothing_behind(monkeypatch):
    def fail(*args):
        raise RuntimeError("database went away")

    monkeypatch.setattr(loading, "_deactivate_unlisted_providers", fail)

    with pytest.raises(RuntimeError):
        load_demo()

    assert counts() == NO_ROWS
    assert AuditEntry.objects.count() == 0


# --- The command --------------------------------------------------------------


def test_command_loads_the_demo_and_prints_what_it_created():
    out = StringIO()

    call_command("load_practice", str(DEMO), stdout=out)

    assert out.getvalue().splitlines() == [
        'Practice "harbourside" loaded.',
        "created: practice 1, appointment types 5, providers 8, services 19, "
        "weekly hours 66, date overrides 28, time off 7",
        "updated: none",
        "deleted: none",
        "deactivated providers: none",
    ]


def test_command_prints_every_problem_and_loads_nothing(tmp_path):
    path = tmp_path / "clinic.yaml"
    path.write_text(
        edited(
            SMALL,
            ("currency: EUR", "currency: EURO"),
            ("mon:", "mo:"),
        )
    )
    err = StringIO()

    with pytest.raises(CommandError) as caught:
        call_command("load_practice", str(path), stderr=err)

    assert err.getvalue().splitlines() == [
        f'{path}:5: practice.currency: "EURO" is not an ISO 4217 currency code',
        f'{path}:18: providers[0].hours.mo: unknown key "mo" (did you mean "mon"?)',
    ]
    assert str(caught.value) == f"{path}: 2 problems found; nothing was loaded."
    assert counts() == NO_ROWS


def test_command_exits_with_status_1_on_a_bad_file(tmp_path):
    path = tmp_path / "clinic.yaml"
    path.write_text(edited(SMALL, ('"80.00"', '"80.001"'), ("mon:", "mo:")))
    # A fresh var directory keeps the child process off the developer's
    # database; a bad file is refused before any query.
    env = os.environ | {"CAREBOOK_VAR_DIR": str(tmp_path / "var")}

    finished = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "load_practice", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=False,
    )

    assert finished.returncode == 1
    assert finished.stderr.splitlines() == [
        f"{path}:16: providers[0].services.consultation: "
        'price "80.001" has more decimal places than EUR allows (2)',
        f'{path}:18: providers[0].hours.mo: unknown key "mo" (did you mean "mon"?)',
        f"CommandError: {path}: 2 problems found; nothing was loaded.",
    ]
    assert finished.stdout == ""


def test_command_reports_a_missing_file(tmp_path):
    with pytest.raises(CommandError) as caught:
        call_command("load_practice", str(tmp_path / "nowhere.yaml"))

    assert str(caught.value).startswith(f"{tmp_path / 'nowhere.yaml'}: cannot be read")


def test_if_empty_skips_when_a_practice_exists():
    load_practice(SMALL, "clinic.yaml")
    before = snapshot()
    out = StringIO()

    call_command("load_practice", str(DEMO), "--if-empty", stdout=out)

    assert out.getvalue() == f"A practice already exists; {DEMO} was not loaded.\n"
    assert snapshot() == before


def test_if_empty_loads_on_an_empty_database():
    call_command("load_practice", str(DEMO), "--if-empty", stdout=StringIO())

    assert Practice.objects.get().slug == "harbourside"


def test_a_second_practice_is_refused_and_nothing_changes():
    load_practice(SMALL, "clinic.yaml")
    before = snapshot()

    with pytest.raises(PracticeFileError) as caught:
        load_demo()

    assert caught.value.messages == [
        "demo/practice.yaml: practice.slug: this Carebook already holds practice "
        '"lakeside" and serves one practice; use that slug to update it, or start '
        "from an empty database"
    ]
    assert snapshot() == before
