"""A provider's private calendar feed: upcoming bookings at a secret URL.

Feeds are fetched over HTTP as a calendar program would, or built directly,
and parsed with icalendar. Time is frozen at Monday 7 December 2026, 08:00
UTC, when Dublin is on UTC; the practice books up to 60 days ahead.
"""

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from icalendar import Calendar

from carebook.audit.models import AuditEntry
from carebook.audit.services import Actor
from carebook.bookings.models import Booking
from carebook.calendars.feeds import (
    build_feed,
    feed_for,
    feed_url,
    initials,
    regenerate_feed_token,
)
from carebook.calendars.models import CalendarFeed
from carebook.log_filters import redact
from carebook.notifications.invites import build_invite
from carebook.practice.loading import load_practice
from carebook.practice.models import AppointmentType, Practice
from carebook.practice.practice_file import PracticeFileError
from tests.conftest import MONDAY_MORNING, make_provider
from tests.factories import make_booking

TUESDAY_NINE = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
EVENT_PROPERTIES = {
    "UID",
    "SEQUENCE",
    "DTSTAMP",
    "DTSTART",
    "DTEND",
    "SUMMARY",
    "STATUS",
    "TRANSP",
}


def book(provider, start=TUESDAY_NINE, reference="7KQ2M4XD", **fields):
    """Insert a confirmed consultation for Zoë Ní Bhriain."""
    consultation = AppointmentType.objects.get(slug="consultation")
    values = {"patient_name": "Zoë Ní Bhriain", **fields}
    return make_booking(provider, consultation, start, reference=reference, **values)


def fetch(feed: CalendarFeed, client=None):
    """GET the feed's address as a calendar program does: no cookies."""
    client = client or Client()
    return client.get(reverse("calendars:feed", kwargs={"token": feed.token}))


def events(ics: str) -> list:
    return Calendar.from_ical(ics).walk("VEVENT")


def references(ics: str) -> list[str]:
    """Return the booking references of the feed's events, in feed order."""
    return [str(event["SUMMARY"]).rsplit(" ", 1)[-1] for event in events(ics)]


def unfolded_lines(ics: str) -> list[str]:
    return re.sub(r"\r\n[ \t]", "", ics).split("\r\n")


def vevent_lines(ics: str) -> list[str]:
    """Return the lines of the feed's one event, as written."""
    lines = unfolded_lines(ics)
    start = lines.index("BEGIN:VEVENT")
    return lines[start : lines.index("END:VEVENT") + 1]


# --- What the feed lists ------------------------------------------------------


def test_feed_lists_only_upcoming_bookings_that_hold_time(provider, now):
    consultation = AppointmentType.objects.get(slug="consultation")
    other = make_provider(provider.practice, "bea-cole", "Dr Bea Cole")
    in_an_hour = MONDAY_MORNING + timedelta(hours=1)
    book(provider, TUESDAY_NINE, "TUE09CNF")
    book(
        provider,
        TUESDAY_NINE + timedelta(hours=1),
        "TUE10PND",
        status=Booking.Status.PENDING_PAYMENT,
        hold_expires_at=in_an_hour,
    )
    # Started 15 minutes ago and runs to 08:15: not over yet.
    book(provider, MONDAY_MORNING - timedelta(minutes=15), "MON0745N")
    # One starting before the 60-day horizon, and one starting at it.
    horizon = MONDAY_MORNING + timedelta(days=60)
    book(provider, horizon - timedelta(minutes=40), "LASTINHZ")
    book(provider, horizon, "BEYONDHZ")

    # None of these hold time now, or they are over, or not Ada's.
    book(provider, TUESDAY_NINE + timedelta(hours=2), "CANCELLD", status="cancelled")
    book(provider, TUESDAY_NINE + timedelta(hours=3), "EXPIRED1", status="expired")
    book(
        provider,
        TUESDAY_NINE + timedelta(hours=4),
        "LAPSEDPN",
        status=Booking.Status.PENDING_PAYMENT,
        hold_expires_at=MONDAY_MORNING,
    )
    book(
        provider,
        TUESDAY_NINE + timedelta(hours=5),
        "HELDONLY",
        status=Booking.Status.HELD,
        hold_expires_at=in_an_hour,
    )
    book(provider, MONDAY_MORNING - timedelta(minutes=70), "ENDED0720")
    book(
        provider,
        datetime(2026, 12, 4, 9, 0, tzinfo=UTC),
        "FRIDAYCP",
        status="completed",
    )
    book(
        provider, datetime(2026, 12, 4, 10, 0, tzinfo=UTC), "FRIDAYNS", status="no_show"
    )
    make_booking(other, consultation, TUESDAY_NINE, reference="BEASBOOK")

    ics = fetch(feed_for(provider)).content.decode()

    assert references(ics) == ["MON0745N", "TUE09CNF", "TUE10PND", "LASTINHZ"]
    assert [str(event["STATUS"]) for event in events(ics)] == [
        "CONFIRMED",
        "CONFIRMED",
        "TENTATIVE",
        "CONFIRMED",
    ]


@pytest.mark.parametrize(
    ("start", "listed"),
    [
        (MONDAY_MORNING - timedelta(minutes=15), []),
        (MONDAY_MORNING - timedelta(minutes=14), ["FOLLOWUP"]),
    ],
)
def test_booking_that_ends_now_is_over(provider, now, start, listed):
    follow_up = AppointmentType.objects.get(slug="follow-up")
    make_booking(provider, follow_up, start, reference="FOLLOWUP")

    assert references(build_feed(provider, MONDAY_MORNING)) == listed


def test_event_is_the_booking_in_the_providers_zone(provider, now):
    # New York is five hours behind UTC in December: 14:00 UTC is 09:00 there.
    provider.timezone = "America/New_York"
    provider.save(update_fields=["timezone"])
    book(provider, datetime(2026, 12, 8, 14, 0, tzinfo=UTC), sequence=3)

    ics = build_feed(provider, MONDAY_MORNING)

    assert vevent_lines(ics) == [
        "BEGIN:VEVENT",
        "SUMMARY:Z. N. B. – 7KQ2M4XD",
        "DTSTART;TZID=America/New_York:20261208T090000",
        "DTEND;TZID=America/New_York:20261208T093000",
        "DTSTAMP:20261207T080000Z",
        "UID:booking-7kq2m4xd@carebook",
        "SEQUENCE:3",
        "STATUS:CONFIRMED",
        "TRANSP:OPAQUE",
        "END:VEVENT",
    ]
    [event] = events(ics)
    assert event.decoded("DTSTART") == datetime(2026, 12, 8, 14, 0, tzinfo=UTC)
    assert event.decoded("DTEND") == datetime(2026, 12, 8, 14, 30, tzinfo=UTC)


def test_event_has_the_uid_of_the_bookings_email_invite(provider, now):
    booking = book(provider)

    [invited] = events(build_invite(booking, "REQUEST"))
    [listed] = events(build_feed(provider, MONDAY_MORNING))

    assert str(listed["UID"]) == str(invited["UID"]) == "booking-7kq2m4xd@carebook"


def test_feed_names_the_provider_and_carries_the_zone_over_the_events_span(
    provider, now
):
    Practice.objects.update(horizon_days=365)
    provider.refresh_from_db()
    book(provider, TUESDAY_NINE, "WINTER01")
    # Dublin is on Irish Summer Time (UTC+1) in June.
    book(provider, datetime(2027, 6, 1, 8, 0, tzinfo=UTC), "SUMMER01")

    ics = build_feed(provider, MONDAY_MORNING)

    calendar = Calendar.from_ical(ics)
    assert {
        name: str(calendar[name])
        for name in ("PRODID", "VERSION", "CALSCALE", "X-WR-CALNAME")
    } == {
        "PRODID": "-//Carebook//Appointments//EN",
        "VERSION": "2.0",
        "CALSCALE": "GREGORIAN",
        "X-WR-CALNAME": "Dr Ada Lovelace",
    }
    [zone] = calendar.walk("VTIMEZONE")
    assert str(zone["TZID"]) == "Europe/Dublin"
    # From the first event's day to the day after the last one ends, and no
    # further: the one change in between is the spring one. (icalendar
    # writes the hour of a change's onset in the new offset, so only dates
    # are pinned here.)
    assert [
        (
            observance.decoded("DTSTART").date(),
            observance.decoded("TZOFFSETFROM"),
            observance.decoded("TZOFFSETTO"),
        )
        for observance in zone.subcomponents
    ] == [
        (date(2026, 12, 8), timedelta(0), timedelta(0)),
        (date(2027, 3, 28), timedelta(0), timedelta(hours=1)),
    ]
    assert str(zone["COMMENT"]) == (
        "This timezone only works from 2026-12-08 to 2027-06-02."
    )
    assert [
        line for line in unfolded_lines(ics) if line.startswith("DTSTART;TZID")
    ] == [
        "DTSTART;TZID=Europe/Dublin:20261208T090000",
        "DTSTART;TZID=Europe/Dublin:20270601T090000",
    ]


def test_feed_without_bookings_is_an_empty_calendar(provider, now):
    ics = build_feed(provider, MONDAY_MORNING)

    calendar = Calendar.from_ical(ics)
    assert [component.name for component in calendar.subcomponents] == []
    assert str(calendar["X-WR-CALNAME"]) == "Dr Ada Lovelace"


# --- Who the patient is, and what is left out ----------------------------------


@pytest.mark.parametrize(
    ("shows_names", "summary"),
    [(False, "Z. N. B. – 7KQ2M4XD"), (True, "Zoë Ní Bhriain – 7KQ2M4XD")],
)
def test_summary_names_the_patient_as_far_as_the_practice_allows(
    provider, now, shows_names, summary
):
    Practice.objects.update(calendar_feed_shows_names=shows_names)
    provider.refresh_from_db()
    book(provider)

    [event] = events(fetch(feed_for(provider)).content.decode())

    assert str(event["SUMMARY"]) == summary


def test_summary_of_a_booking_without_a_name_is_its_reference(provider, now):
    book(provider, patient_name="")

    [event] = events(build_feed(provider, MONDAY_MORNING))

    assert str(event["SUMMARY"]) == "7KQ2M4XD"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Zoë Ní Bhriain", "Z. N. B."),
        # Decomposed accents, as some keyboards and browsers send them.
        ("E\u0301amon O\u0301 Ce\u0301ide", "É. Ó. C."),
        ("  ada   lovelace ", "A. L."),
        ("Łukasz Żak", "Ł. Ż."),
        ("Mary-Kate O'Brien", "M. O."),
        ("(Jo) Bloggs - Smith", "J. B. S."),
        ("Ψυχή Αλεξίου", "Ψ. Α."),
        ("山田 太郎", "山. 太."),
        ("", ""),
        (" - ", ""),
    ],
)
def test_initials_take_each_words_first_letter(name, expected):
    assert initials(name) == expected


def test_feed_carries_nothing_clinical_and_no_contact_details(provider, now):
    AppointmentType.objects.filter(slug="consultation").update(
        name="Sexual health screening"
    )
    provider.specialty = "Genitourinary medicine"
    provider.save(update_fields=["specialty"])
    booking = book(
        provider,
        patient_email="zoe@example.ie",
        patient_phone="+353 87 123 4567",
        status=Booking.Status.PENDING_PAYMENT,
        hold_expires_at=MONDAY_MORNING + timedelta(minutes=30),
    )

    body = fetch(feed_for(provider)).content.decode()

    [event] = events(body)
    assert set(event) == EVENT_PROPERTIES
    assert [component.name for component in Calendar.from_ical(body).walk()] == [
        "VCALENDAR",
        "VTIMEZONE",
        "DAYLIGHT",
        "VEVENT",
    ]
    for secret in (
        "sexual",
        "screening",
        "genitourinary",
        "consultation",
        "zoe@example.ie",
        "123 4567",
        "http",
        "mailto",
        "riverside",
        booking.token.lower(),
    ):
        assert secret not in body.lower()


# --- The address ------------------------------------------------------------------


def test_feed_answers_a_calendar_with_caching_for_five_minutes(provider, now):
    book(provider)
    client = Client()

    response = fetch(feed_for(provider), client)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Cache-Control"] == "private, max-age=300"
    assert response.cookies == {}
    assert client.cookies == {}
    assert references(response.content.decode()) == ["7KQ2M4XD"]


def test_feed_address_is_the_token_under_the_base_url(provider, settings):
    settings.CAREBOOK_BASE_URL = "https://book.riverside.example/"
    feed = feed_for(provider)

    assert feed_url(feed) == (
        f"https://book.riverside.example/calendars/feed/{feed.token}.ics"
    )


def test_feed_for_makes_one_feed_per_provider_and_keeps_it(provider):
    first = feed_for(provider)
    second = feed_for(provider)

    assert second.pk == first.pk
    assert second.token == first.token
    assert len(first.token) == 43
    assert CalendarFeed.objects.count() == 1


@pytest.mark.parametrize("token", ["no-such-token", "x" * 43, "a.b"])
def test_unknown_token_is_404(provider, token):
    feed_for(provider)

    response = Client().get(f"/calendars/feed/{token}.ics")

    assert response.status_code == 404


def test_feed_of_a_deactivated_provider_is_404(provider):
    feed = feed_for(provider)
    provider.is_active = False
    provider.save(update_fields=["is_active"])

    assert fetch(feed).status_code == 404


def test_feed_refuses_post_and_answers_head(provider, now):
    feed = feed_for(provider)
    path = reverse("calendars:feed", kwargs={"token": feed.token})

    assert Client().post(path).status_code == 405
    assert Client().head(path).status_code == 200


def test_regenerating_retires_the_old_address_at_once(provider, now, django_user_model):
    feed = feed_for(provider)
    old = CalendarFeed.objects.get(pk=feed.pk)
    staff = django_user_model.objects.create_user("desk", is_staff=True)

    regenerate_feed_token(feed, Actor("staff", staff))

    assert feed.token != old.token
    assert CalendarFeed.objects.get(pk=feed.pk).token == feed.token
    assert fetch(old).status_code == 404
    assert fetch(feed).status_code == 200
    entry = AuditEntry.objects.get()
    assert (
        entry.action,
        entry.actor_kind,
        entry.actor_user,
        entry.object_type,
        entry.object_id,
        entry.changes,
    ) == (
        "calendar.feed_regenerated",
        "staff",
        staff,
        "calendars.calendarfeed",
        str(feed.pk),
        {"provider": provider.pk},
    )


def test_feed_token_is_hidden_in_the_logs(provider):
    token = feed_for(provider).token

    assert redact(f'127.0.0.1 "GET /calendars/feed/{token}.ics HTTP/1.1" 200') == (
        '127.0.0.1 "GET /calendars/feed/[redacted] HTTP/1.1" 200'
    )
    assert redact(f"Not Found: /calendars/feed/{token}.ics") == (
        "Not Found: /calendars/feed/[redacted]"
    )


# --- The practice file key -------------------------------------------------------

PRACTICE_FILE = """\
practice:
  slug: lakeside
  name: Lakeside Clinic
  timezone: Europe/Dublin
  currency: EUR
"""


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("line", "shows_names"),
    [("", False), ("  calendar_feed_shows_names: true\n", True)],
)
def test_practice_file_sets_whether_feeds_show_names(line, shows_names):
    load_practice(PRACTICE_FILE + line, "clinic.yaml")

    assert Practice.objects.get().calendar_feed_shows_names is shows_names


@pytest.mark.django_db
def test_practice_file_left_without_the_key_turns_names_off_again():
    load_practice(PRACTICE_FILE + "  calendar_feed_shows_names: true\n", "clinic.yaml")
    load_practice(PRACTICE_FILE, "clinic.yaml")

    assert Practice.objects.get().calendar_feed_shows_names is False


@pytest.mark.django_db
@pytest.mark.parametrize(("value", "shown"), [("yes", '"yes"'), ("1", "1")])
def test_practice_file_refuses_a_feed_setting_that_is_not_true_or_false(value, shown):
    with pytest.raises(PracticeFileError) as error:
        load_practice(
            PRACTICE_FILE + f"  calendar_feed_shows_names: {value}\n", "clinic.yaml"
        )

    assert error.value.messages == [
        "clinic.yaml:6: practice.calendar_feed_shows_names: "
        f"expected true or false, got {shown}"
    ]
    assert Practice.objects.count() == 0
