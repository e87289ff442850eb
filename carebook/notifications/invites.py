"""Calendar invites (.ics) for bookings, one event per booking for life.

The event's UID never changes and its SEQUENCE grows with every change, so
calendar programs update or cancel the event they already have. The event
names the provider and the practice and nothing clinical: no specialty, no
appointment type.
"""

from datetime import timedelta
from email.utils import parseaddr
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from icalendar import Calendar, Event, vCalAddress, vText

PRODUCT_ID = "-//Carebook//Appointments//EN"


def event_uid(booking) -> str:
    """Return the UID of the booking's calendar event, stable for its life."""
    return f"booking-{booking.reference.lower()}@carebook"


def organizer_address(practice) -> str:
    """Return the email address invites come from."""
    return practice.email or parseaddr(settings.DEFAULT_FROM_EMAIL)[1]


def build_invite(booking, method: str) -> str:
    """Return an iCalendar file asking to add (REQUEST) or drop (CANCEL) it.

    Times are written in the provider's zone, with its VTIMEZONE, so the
    event stays right whatever zone the reader's calendar uses.
    """
    provider = booking.provider
    practice = provider.practice
    zone = ZoneInfo(provider.zone_name)

    event = Event()
    event.add("uid", event_uid(booking))
    event.add("sequence", booking.sequence)
    event.add("dtstamp", timezone.now())
    event.add("dtstart", booking.start.astimezone(zone))
    event.add("dtend", booking.end.astimezone(zone))
    event.add("summary", _("Appointment with %(name)s") % {"name": provider.name})
    event.add("location", practice.name)
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    event.add("transp", "OPAQUE")

    organizer = vCalAddress(f"mailto:{organizer_address(practice)}")
    organizer.params["cn"] = vText(practice.name)
    event.add("organizer", organizer)
    attendee = vCalAddress(f"mailto:{booking.patient_email}")
    attendee.params["cn"] = vText(booking.patient_name)
    attendee.params["role"] = vText("REQ-PARTICIPANT")
    attendee.params["partstat"] = vText("ACCEPTED")
    event.add("attendee", attendee)

    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("method", method)
    calendar.add_component(event)
    # The zone's rules around the appointment, not its whole history.
    start_day = booking.start.astimezone(zone).date()
    calendar.add_missing_timezones(
        first_date=start_day - timedelta(days=366),
        last_date=start_day + timedelta(days=366),
    )
    return calendar.to_ical().decode()
