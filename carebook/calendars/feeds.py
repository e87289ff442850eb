"""A provider's private calendar feed of upcoming bookings, at a secret URL.

A calendar program subscribes to the feed and polls it. Each booking keeps
the UID its email invite and CalDAV copy use, so every copy is one event.
Events carry the time, the booking reference and the patient's initials
(the full name only when the practice allows it), and nothing clinical: no
appointment type, no specialty, no contact details, no link.
"""

import logging
import unicodedata
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.urls import reverse
from icalendar import Calendar, Event

from carebook.audit.services import SYSTEM, Actor, record_change
from carebook.bookings.models import Booking
from carebook.calendars.models import CalendarFeed, new_feed_token
from carebook.notifications.invites import PRODUCT_ID, event_uid
from carebook.practice.models import Provider
from carebook.web.links import absolute_url

logger = logging.getLogger(__name__)

# Bookings a provider expects to see: paid, or waiting for a payment that
# may still come. A bare hold lasts minutes and is left out.
FEED_STATUSES = (Booking.Status.CONFIRMED, Booking.Status.PENDING_PAYMENT)
EVENT_STATUS = {
    Booking.Status.CONFIRMED: "CONFIRMED",
    Booking.Status.PENDING_PAYMENT: "TENTATIVE",
}


def feed_for(provider: Provider) -> CalendarFeed:
    """Return the provider's feed, creating it with a new token if needed."""
    feed, _ = CalendarFeed.objects.get_or_create(provider=provider)
    return feed


def find_feed(token: str) -> CalendarFeed | None:
    """Return the feed with this token, or None if none has it.

    A deactivated provider's feed is not found: someone who left the
    practice should not keep reading its patients' appointments.
    """
    return (
        CalendarFeed.objects.select_related("provider__practice")
        .filter(token=token, provider__is_active=True)
        .first()
    )


def feed_url(feed: CalendarFeed) -> str:
    """Return the feed's full address, for the provider to subscribe to."""
    return absolute_url(reverse("calendars:feed", kwargs={"token": feed.token}))


def regenerate_feed_token(feed: CalendarFeed, actor: Actor = SYSTEM) -> CalendarFeed:
    """Give the feed a new token; the old address stops working at once.

    For a feed address that was shared too widely. The audit entry names
    the provider, never the token.
    """
    with transaction.atomic():
        feed.token = new_feed_token()
        feed.save(update_fields=["token", "created_at"])
        record_change(
            "calendar.feed_regenerated",
            feed,
            actor,
            {"provider": feed.provider_id},
        )
    logger.info("Calendar feed of provider %s regenerated", feed.provider_id)
    return feed


def upcoming_bookings(provider: Provider, now: datetime):
    """Return the provider's bookings that hold time and have not ended.

    They run from `now` to the practice's booking horizon, earliest first.
    """
    horizon = now + timedelta(days=provider.practice.horizon_days)
    return (
        Booking.objects.filter(
            provider=provider,
            status__in=FEED_STATUSES,
            end__gt=now,
            start__lt=horizon,
        )
        .holding_time(now)
        .order_by("start", "pk")
    )


def build_feed(provider: Provider, now: datetime) -> str:
    """Return the provider's upcoming bookings as an iCalendar feed.

    Times are written in the provider's zone, with that zone's VTIMEZONE
    covering the days the events span.
    """
    zone = ZoneInfo(provider.zone_name)
    shows_names = provider.practice.calendar_feed_shows_names
    bookings = list(upcoming_bookings(provider, now))

    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", provider.name)
    for booking in bookings:
        calendar.add_component(_event(booking, zone, shows_names))

    if bookings:
        # icalendar writes no observance for a span of a single day.
        calendar.add_missing_timezones(
            first_date=bookings[0].start.astimezone(zone).date(),
            last_date=max(b.end for b in bookings).astimezone(zone).date()
            + timedelta(days=1),
        )
    return calendar.to_ical().decode()


def _event(booking: Booking, zone: ZoneInfo, shows_names: bool) -> Event:
    """Return one booking as an event, with nothing clinical in it."""
    name = booking.patient_name if shows_names else initials(booking.patient_name)
    summary = f"{name} – {booking.reference}" if name else booking.reference

    event = Event()
    event.add("uid", event_uid(booking))
    event.add("sequence", booking.sequence)
    # A feed has no METHOD, so DTSTAMP is when the event last changed
    # (RFC 5545, 3.8.7.2); it also keeps the feed the same between polls.
    event.add("dtstamp", booking.updated_at)
    event.add("dtstart", booking.start.astimezone(zone))
    event.add("dtend", booking.end.astimezone(zone))
    event.add("summary", summary)
    event.add("status", EVENT_STATUS[booking.status])
    event.add("transp", "OPAQUE")
    return event


def initials(name: str) -> str:
    """Return the initials of a name: "Zoë Ní Bhriain" gives "Z. N. B.".

    Each word gives its first letter with any accents on it, upper-cased;
    words without a letter, such as a lone "-", give nothing.
    """
    letters = [
        _first_letter(word) for word in unicodedata.normalize("NFC", name).split()
    ]
    return " ".join(f"{letter}." for letter in letters if letter)


def _first_letter(word: str) -> str:
    """Return the word's first letter and the marks that follow it."""
    for index, char in enumerate(word):
        if unicodedata.category(char).startswith("L"):
            end = index + 1
            while end < len(word) and unicodedata.category(word[end]).startswith("M"):
                end += 1
            return unicodedata.normalize("NFC", word[index:end].upper())
    return ""
