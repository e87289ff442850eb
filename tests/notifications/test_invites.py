"""Calendar invites: one event per booking, updated and cancelled in place.

Bookings are made, moved and cancelled through the booking services; the
job queue sends the emails to a real SMTP server (aiosmtpd), and each test
reads the invite attached there with two independent parsers, icalendar
and vobject. Time is frozen at Monday 7 December 2026, 08:00 UTC.
"""

import re
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
import vobject
from icalendar import Calendar
from vobject.icalendar import TimezoneComponent

from carebook.audit.services import PATIENT
from carebook.bookings import services
from carebook.bookings.models import Booking
from carebook.practice.models import AppointmentType, Practice, Service
from carebook.web.links import booking_url

PATIENT_EMAIL = "zoe@example.ie"
PRACTICE_EMAIL = "desk@riverside.example"
WEDNESDAY_ELEVEN = datetime(2026, 12, 9, 11, 0, tzinfo=UTC)
THURSDAY_TWO = datetime(2026, 12, 10, 14, 0, tzinfo=UTC)


@pytest.fixture
def clinic(provider, smtp_server, now):
    """Free consultations with Dr Lovelace; the practice has an address."""
    Practice.objects.update(email=PRACTICE_EMAIL)
    Service.objects.update(price_amount=0)
    provider.email = "ada@riverside.example"
    provider.save(update_fields=["email"])
    provider.refresh_from_db()
    return provider


@pytest.fixture
def delivered(django_capture_on_commit_callbacks, jobs):
    """Commit what the block does, then let the job queue send what is due."""

    @contextmanager
    def block():
        with django_capture_on_commit_callbacks(execute=True):
            yield
        jobs.run()

    return block


def book(provider, start=WEDNESDAY_ELEVEN, name="Zoë Ní Bhriain", language="en"):
    """Book a free consultation, confirmed at once; return the booking."""
    held = services.book_slot(
        provider=provider,
        appointment_type=AppointmentType.objects.get(slug="consultation"),
        start=start,
        patient_timezone="Europe/Dublin",
        patient_language=language,
        source=Booking.Source.API,
        actor=PATIENT,
        patient=services.PatientDetails(name, PATIENT_EMAIL),
        return_url_for=booking_url,
    )
    return held.booking


def patient_messages(smtp_server) -> list[EmailMessage]:
    return [m for m in smtp_server.messages if m["To"] == PATIENT_EMAIL]


def invite_part(message: EmailMessage) -> EmailMessage:
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    return part


def invite_of(message: EmailMessage) -> str:
    """Return the attached .ics exactly as it arrived, CRLFs and folds kept."""
    return invite_part(message).get_content()


def unfolded_lines(ics: str) -> list[str]:
    return re.sub(r"\r\n[ \t]", "", ics).split("\r\n")


def event_of(ics: str):
    [event] = Calendar.from_ical(ics).walk("VEVENT")
    return event


def uid_of(booking: Booking) -> str:
    return f"booking-{booking.reference.lower()}@carebook"


def life_of_the_event(smtp_server) -> list[tuple]:
    """Return, invite by invite, what a calendar program acts on."""
    rows = []
    for message in patient_messages(smtp_server):
        ics = invite_of(message)
        event = event_of(ics)
        starts = [line for line in unfolded_lines(ics) if line.startswith("DTSTART;")]
        rows.append(
            (
                invite_part(message).get_param("method"),
                str(Calendar.from_ical(ics)["METHOD"]),
                str(event["UID"]),
                event.decoded("SEQUENCE"),
                str(event["STATUS"]),
                starts,
            )
        )
    return rows


def test_confirmation_carries_a_calendar_request(clinic, delivered, smtp_server):
    with delivered():
        book(clinic)

    [confirmation] = patient_messages(smtp_server)
    part = invite_part(confirmation)
    assert (
        part.get_content_type(),
        part.get_param("method"),
        part.get_param("charset"),
        part.get_filename(),
    ) == ("text/calendar", "REQUEST", "utf-8", "invite.ics")
    assert [p.get_content_type() for p in confirmation.walk()] == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "text/calendar",
    ]


def test_provider_notices_carry_no_invite(clinic, delivered, smtp_server):
    with delivered():
        booking = book(clinic)
    with delivered():
        services.cancel_booking(booking, PATIENT)

    notices = [m for m in smtp_server.messages if m["To"] == "ada@riverside.example"]
    assert [[p.get_content_type() for p in m.walk()] for m in notices] == [
        ["multipart/alternative", "text/plain", "text/html"],
        ["multipart/alternative", "text/plain", "text/html"],
    ]


def test_invite_names_the_provider_time_and_place_and_nothing_clinical(
    clinic, delivered, smtp_server
):
    AppointmentType.objects.filter(slug="consultation").update(
        name="Sexual health screening"
    )
    clinic.specialty = "Genitourinary medicine"
    clinic.save(update_fields=["specialty"])

    with delivered():
        booking = book(clinic)

    ics = invite_of(patient_messages(smtp_server)[0])
    event = event_of(ics)
    assert {name: str(event[name]) for name in ("SUMMARY", "LOCATION", "TRANSP")} == {
        "SUMMARY": "Appointment with Dr Ada Lovelace",
        "LOCATION": "Riverside Clinic",
        "TRANSP": "OPAQUE",
    }
    assert str(event["UID"]) == uid_of(booking)
    assert event.decoded("DTSTAMP") == datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    for clinical in ("sexual", "screening", "genitourinary", "consultation"):
        assert clinical not in ics.lower()


def test_invite_times_carry_the_providers_zone_with_its_rules(
    clinic, delivered, smtp_server
):
    with delivered():
        book(clinic)

    ics = invite_of(patient_messages(smtp_server)[0])
    lines = unfolded_lines(ics)
    assert [line for line in lines if line.startswith(("DTSTART;", "DTEND;"))] == [
        "DTSTART;TZID=Europe/Dublin:20261209T110000",
        "DTEND;TZID=Europe/Dublin:20261209T113000",
    ]
    calendar = Calendar.from_ical(ics)
    assert [str(zone["TZID"]) for zone in calendar.walk("VTIMEZONE")] == [
        "Europe/Dublin"
    ]
    event = event_of(ics)
    assert event["DTSTART"].params["TZID"] == "Europe/Dublin"
    assert event.decoded("DTSTART") == WEDNESDAY_ELEVEN
    assert event.decoded("DTEND") == WEDNESDAY_ELEVEN + timedelta(minutes=30)


def test_invite_names_the_practice_as_organizer_and_the_patient_as_attendee(
    clinic, delivered, smtp_server
):
    with delivered():
        book(clinic)

    event = event_of(invite_of(patient_messages(smtp_server)[0]))
    organizer, attendee = event["ORGANIZER"], event["ATTENDEE"]
    assert (str(organizer), dict(organizer.params)) == (
        f"mailto:{PRACTICE_EMAIL}",
        {"CN": "Riverside Clinic"},
    )
    assert (str(attendee), dict(attendee.params)) == (
        f"mailto:{PATIENT_EMAIL}",
        {"CN": "Zoë Ní Bhriain", "ROLE": "REQ-PARTICIPANT", "PARTSTAT": "ACCEPTED"},
    )


def test_moved_booking_updates_the_same_event_with_sequence_1(
    clinic, delivered, smtp_server
):
    with delivered():
        booking = book(clinic)
    with delivered():
        services.reschedule_booking(booking, THURSDAY_TWO, PATIENT)

    uid = uid_of(booking)
    assert life_of_the_event(smtp_server) == [
        (
            "REQUEST",
            "REQUEST",
            uid,
            0,
            "CONFIRMED",
            ["DTSTART;TZID=Europe/Dublin:20261209T110000"],
        ),
        (
            "REQUEST",
            "REQUEST",
            uid,
            1,
            "CONFIRMED",
            ["DTSTART;TZID=Europe/Dublin:20261210T140000"],
        ),
    ]


def test_cancelled_booking_cancels_the_same_event_with_sequence_2(
    clinic, delivered, smtp_server
):
    with delivered():
        booking = book(clinic)
    with delivered():
        services.reschedule_booking(booking, THURSDAY_TWO, PATIENT)
    with delivered():
        services.cancel_booking(booking, PATIENT)

    assert life_of_the_event(smtp_server)[2] == (
        "CANCEL",
        "CANCEL",
        uid_of(booking),
        2,
        "CANCELLED",
        ["DTSTART;TZID=Europe/Dublin:20261210T140000"],
    )
    ics = invite_of(patient_messages(smtp_server)[2])
    assert "METHOD:CANCEL" in unfolded_lines(ics)
    assert "STATUS:CANCELLED" in unfolded_lines(ics)


def test_icalendar_and_vobject_read_the_same_event(clinic, delivered, smtp_server):
    # Berlin is an hour ahead of UTC in December, so a wall time read as
    # UTC, or UTC read as wall time, would show.
    clinic.timezone = "Europe/Berlin"
    clinic.save(update_fields=["timezone"])

    with delivered():
        booking = book(clinic, start=datetime(2026, 12, 9, 10, 0, tzinfo=UTC))

    ics = invite_of(patient_messages(smtp_server)[0])
    by_icalendar = event_of(ics)
    by_vobject = vobject.readOne(ics).vevent
    assert by_icalendar.decoded("DTSTART") == datetime(2026, 12, 9, 10, 0, tzinfo=UTC)
    assert by_vobject.dtstart.value == datetime(2026, 12, 9, 10, 0, tzinfo=UTC)
    assert by_vobject.dtstart.value.replace(tzinfo=None) == datetime(2026, 12, 9, 11)
    assert by_vobject.dtend.value == datetime(2026, 12, 9, 10, 30, tzinfo=UTC)
    assert (
        by_vobject.uid.value,
        by_vobject.sequence.value,
        by_vobject.summary.value,
        by_vobject.location.value,
        by_vobject.organizer.params["CN"],
        by_vobject.attendee.params["CN"],
    ) == (
        uid_of(booking),
        "0",
        "Appointment with Dr Ada Lovelace",
        "Riverside Clinic",
        ["Riverside Clinic"],
        ["Zoë Ní Bhriain"],
    )
    assert by_vobject.dtstart.params == {"X-VOBJ-ORIGINAL-TZID": ["Europe/Berlin"]}
    assert TimezoneComponent.pickTzid(by_vobject.dtstart.value.tzinfo) == (
        "Europe/Berlin"
    )


def test_commas_semicolons_and_newlines_in_names_are_escaped(
    clinic, delivered, smtp_server
):
    Practice.objects.update(name="Smith, Jones; Partners\nDublin")
    clinic.name = "Lovelace, Ada; MD"
    clinic.save(update_fields=["name"])

    with delivered():
        book(clinic, name='Ní Bhriain, Zoë; "Zo"')

    ics = invite_of(patient_messages(smtp_server)[0])
    lines = unfolded_lines(ics)
    assert "SUMMARY:Appointment with Lovelace\\, Ada\\; MD" in lines
    assert "LOCATION:Smith\\, Jones\\; Partners\\nDublin" in lines
    assert (
        f'ORGANIZER;CN="Smith, Jones; Partners^nDublin":mailto:{PRACTICE_EMAIL}'
        in lines
    )
    assert [line for line in lines if line.startswith("ATTENDEE")] == [
        "ATTENDEE;CN=\"Ní Bhriain, Zoë; ^'Zo^'\";PARTSTAT=ACCEPTED;"
        f"ROLE=REQ-PARTICIPANT:mailto:{PATIENT_EMAIL}"
    ]
    event = event_of(ics)
    assert (
        str(event["SUMMARY"]),
        str(event["LOCATION"]),
        event["ORGANIZER"].params["CN"],
        event["ATTENDEE"].params["CN"],
    ) == (
        "Appointment with Lovelace, Ada; MD",
        "Smith, Jones; Partners\nDublin",
        "Smith, Jones; Partners\nDublin",
        'Ní Bhriain, Zoë; "Zo"',
    )
    by_vobject = vobject.readOne(ics).vevent
    assert (by_vobject.summary.value, by_vobject.location.value) == (
        "Appointment with Lovelace, Ada; MD",
        "Smith, Jones; Partners\nDublin",
    )


def test_every_line_of_the_invite_fits_in_75_octets(clinic, delivered, smtp_server):
    long_name = "Riverside Family Practice and Community Health Centre of Dublin"
    Practice.objects.update(name=long_name)
    patient = "Zoë Ní Bhriain-Ó Súilleabháin Mhic Giolla Phádraig 山田太郎 Ōtomo"

    with delivered():
        book(clinic, name=patient)

    ics = invite_of(patient_messages(smtp_server)[0])
    physical = ics.split("\r\n")
    assert max(len(line.encode()) for line in physical) <= 75
    assert [line for line in physical if line.startswith(" ")] != []
    event = event_of(ics)
    assert (str(event["LOCATION"]), event["ATTENDEE"].params["CN"]) == (
        long_name,
        patient,
    )
    assert ics.endswith("END:VCALENDAR\r\n")
    assert ics.count("\n") == ics.count("\r\n")


def test_german_patient_gets_a_german_event_title(clinic, delivered, smtp_server):
    with delivered():
        book(clinic, language="de")

    event = event_of(invite_of(patient_messages(smtp_server)[0]))
    assert str(event["SUMMARY"]) == "Termin bei Dr Ada Lovelace"
