"""Offer time that comes free to the patients waiting for it, in line order.

A patient joins for a provider, an appointment type and a range of their
own days. When time comes free (a booking cancelled, moved or expired,
hours widened, time off removed), the first patient in line who has no
open offer gets the earliest free time in their days, held for
CAREBOOK_WAITLIST_CLAIM_MINUTES. The held booking is the offer: claiming
it adds the patient's details; when it lapses or is declined, its time is
offered to the next in line, never again to the same patient.
"""

import logging
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from carebook.audit.services import JOB, Actor, record_change
from carebook.bookings import services as bookings
from carebook.bookings.availability import find_free_slots, has_working_time
from carebook.bookings.models import Booking, hash_token, make_token
from carebook.contact import email_key
from carebook.notifications import services as notifications
from carebook.practice.models import Service
from carebook.scheduling import Interval, local_days
from carebook.timezones import local_date
from carebook.waitlist.models import TOKEN_PURPOSE, WaitlistEntry, WaitlistOffer
from carebook.web.links import booking_url

logger = logging.getLogger(__name__)


# Statuses of a booking its patient has, after payment or without one.
BOOKED_STATUSES = (
    Booking.Status.CONFIRMED,
    Booking.Status.COMPLETED,
    Booking.Status.NO_SHOW,
)


class WaitlistError(Exception):
    """A waitlist request that cannot be carried out; the message says why."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


ALREADY_WAITING = (
    "This email address is already on this waitlist; its link in the email "
    "lets you leave it, and then join for other days."
)


class OfferClosed(WaitlistError):
    """The offer was claimed, declined or has lapsed."""


@dataclass(frozen=True)
class JoinedEntry:
    """A new place in line and its secret token, for the patient's link."""

    entry: WaitlistEntry
    token: str


def _check_days(service: Service, first_day, last_day, zone_name: str, now) -> None:
    """Refuse days in the past, out of order, or beyond the booking horizon."""
    practice = service.provider.practice
    today = local_date(zone_name, now)
    last_bookable = local_date(zone_name, now + timedelta(days=practice.horizon_days))
    if first_day < today:
        raise WaitlistError("This day has passed.", "first_day")
    if last_day < first_day:
        raise WaitlistError("The last day comes before the first.", "last_day")
    if last_day > last_bookable:
        raise WaitlistError(
            f"Bookings open only up to {last_bookable.day} {last_bookable:%B %Y}.",
            "last_day",
        )


def join_waitlist(
    *,
    service: Service,
    first_day: date,
    last_day: date,
    patient: bookings.PatientDetails,
    patient_timezone: str,
    patient_language: str,
    actor: Actor,
    now: datetime | None = None,
) -> JoinedEntry:
    """Put a patient in line for a provider's service on a range of days.

    Refused while any of those days still has a free time (the patient
    books that instead), and while the same email address already waits
    for this provider and type.
    """
    now = now or timezone.now()
    _check_days(service, first_day, last_day, patient_timezone, now)
    window = local_days(first_day, last_day, patient_timezone)
    if find_free_slots(service.provider, service.appointment_type, window, now):
        raise WaitlistError(
            "There are still free times on these days: please book one of them."
        )
    if not has_working_time(service.provider, service.appointment_type, window, now):
        raise WaitlistError(
            f"No time can come free on these days: {service.provider.name} does "
            "not see patients then, or they are too soon to book. Please choose "
            "other days."
        )
    key = email_key(patient.email)
    if _is_waiting_elsewhere(key, service.provider_id, service.appointment_type_id):
        raise WaitlistError(ALREADY_WAITING, "email")

    token_salt = secrets.token_hex(16)
    token = make_token(token_salt, TOKEN_PURPOSE)
    try:
        with transaction.atomic():
            entry = WaitlistEntry.objects.create(
                provider=service.provider,
                appointment_type=service.appointment_type,
                first_day=first_day,
                last_day=last_day,
                patient_name=patient.name,
                patient_email=patient.email,
                email_key=key,
                patient_phone=patient.phone,
                patient_timezone=patient_timezone,
                patient_language=patient_language,
                token_hash=hash_token(token),
                token_salt=token_salt,
                joined_at=now,
            )
            record_change(
                "waitlist.joined",
                entry,
                actor,
                {"first_day": first_day.isoformat(), "last_day": last_day.isoformat()},
            )
            notifications.notify_waitlist_joined(entry)
    except IntegrityError:
        # The same address joined a moment ago, from another request.
        raise WaitlistError(ALREADY_WAITING, "email") from None
    logger.info("Waitlist entry %s joined for provider %s", entry.pk, entry.provider_id)
    return JoinedEntry(entry, token)


def _is_waiting_elsewhere(
    key: str, provider_id: int, appointment_type_id: int, but: int | None = None
) -> bool:
    """Return whether the address already waits for this provider and type."""
    return (
        WaitlistEntry.objects.filter(
            email_key=key,
            provider_id=provider_id,
            appointment_type_id=appointment_type_id,
            status=WaitlistEntry.Status.WAITING,
        )
        .exclude(pk=but)
        .exists()
    )


def offer_free_times(provider_id: int, now: datetime | None = None) -> int:
    """Offer the provider's free times to the patients in line; return how many.

    Safe to run twice at once: an offer is a held booking, so two offers
    never hold one time, and each place in line has at most one open offer.
    """
    now = now or timezone.now()
    settle_offers(provider_id, now)
    open_offers = WaitlistOffer.objects.filter(
        entry=OuterRef("pk"), status=WaitlistOffer.Status.OPEN
    )
    waiting = (
        WaitlistEntry.objects.filter(
            provider_id=provider_id,
            provider__is_active=True,
            status=WaitlistEntry.Status.WAITING,
        )
        .annotate(has_open_offer=Exists(open_offers))
        .select_related("provider__practice", "appointment_type__practice")
    )

    offered = 0
    for entry in waiting:
        if _has_ended(entry, now):
            _end_entry(entry, now)
        elif not entry.has_open_offer:
            offered += _offer_first_free_time(entry, now)
    return offered


def providers_in_line(provider_id: int | None = None) -> set[int]:
    """Return the providers whose waitlist has work: a place or an offer.

    A place waits for a time; an open or claimed offer may yet lapse and
    put its time, or its patient, back in line.
    """
    waiting = WaitlistEntry.objects.filter(status=WaitlistEntry.Status.WAITING)
    offered = WaitlistOffer.objects.filter(
        status__in=(WaitlistOffer.Status.OPEN, WaitlistOffer.Status.CLAIMED)
    )
    if provider_id is not None:
        waiting = waiting.filter(provider_id=provider_id)
        offered = offered.filter(entry__provider_id=provider_id)
    return set(
        waiting.order_by().values_list("provider_id", flat=True).distinct()
    ) | set(offered.order_by().values_list("entry__provider_id", flat=True).distinct())


def _has_ended(entry: WaitlistEntry, now: datetime) -> bool:
    return entry.last_day < local_date(entry.patient_timezone, now)


def _end_entry(entry: WaitlistEntry, now: datetime) -> None:
    """End a place whose days have passed, with any offer still open."""
    with transaction.atomic():
        entry = _lock_entry(entry.pk)
        if entry.status != WaitlistEntry.Status.WAITING:
            return
        entry.status = WaitlistEntry.Status.ENDED
        entry.save(update_fields=["status", "updated_at"])
        record_change("waitlist.ended", entry, JOB)
        for offer in entry.offers.filter(status=WaitlistOffer.Status.OPEN):
            _lapse(offer, now)


def _lock_entry(entry_id: int) -> WaitlistEntry:
    """Lock a place in line; every waitlist change locks it first."""
    return (
        WaitlistEntry.objects.select_for_update(of=("self",))
        .select_related("provider__practice", "appointment_type__practice")
        .get(pk=entry_id)
    )


def _lock_offer(offer_id: int) -> WaitlistOffer:
    return (
        WaitlistOffer.objects.select_for_update(of=("self",))
        .select_related("booking")
        .get(pk=offer_id)
    )


def settle_offers(provider_id: int, now: datetime | None = None) -> None:
    """Bring the provider's offers in line with their held bookings.

    1. An open offer whose hold ended unclaimed has lapsed.
    2. An open offer whose booking went on to payment or confirmation
       another way was claimed.
    3. A claimed offer whose booking expired unpaid puts its patient back
       in line, for other times, unless they joined again meanwhile.
    4. An offer whose claim had lapsed but was paid late after all, and
       confirmed, is claimed again: its patient has their booking.
    """
    now = now or timezone.now()
    offers = WaitlistOffer.objects.filter(entry__provider_id=provider_id).filter(
        Q(status=WaitlistOffer.Status.OPEN)
        | Q(
            status=WaitlistOffer.Status.CLAIMED,
            booking__status=Booking.Status.EXPIRED,
            entry__status=WaitlistEntry.Status.BOOKED,
        )
        | (
            Q(status=WaitlistOffer.Status.LAPSED, booking__status__in=BOOKED_STATUSES)
            & ~Q(entry__status=WaitlistEntry.Status.BOOKED)
        )
    )
    for offer_id, entry_id in list(offers.values_list("pk", "entry_id")):
        with transaction.atomic():
            entry = _lock_entry(entry_id)
            offer = _lock_offer(offer_id)
            _settle_offer(entry, offer, now)


def _settle_offer(entry: WaitlistEntry, offer: WaitlistOffer, now: datetime) -> None:
    booking = offer.booking
    if offer.status == WaitlistOffer.Status.OPEN:
        if booking.status == Booking.Status.HELD and not booking.is_hold_expired(now):
            return
        if booking.status in (Booking.Status.HELD, Booking.Status.EXPIRED):
            _lapse(offer, now)
        else:
            _mark_claimed(entry, offer, JOB)
    elif offer.status == WaitlistOffer.Status.CLAIMED:
        if booking.status == Booking.Status.EXPIRED:
            offer.status = WaitlistOffer.Status.LAPSED
            offer.save(update_fields=["status"])
            _back_in_line(entry)
    elif booking.status in BOOKED_STATUSES:
        _mark_claimed(entry, offer, JOB)


def _back_in_line(entry: WaitlistEntry) -> None:
    """Put a patient whose claim went unpaid back in line, if they are not."""
    if entry.status != WaitlistEntry.Status.BOOKED:
        return
    if _is_waiting_elsewhere(
        entry.email_key, entry.provider_id, entry.appointment_type_id, entry.pk
    ):
        # They joined again meanwhile: that place stands for them.
        entry.status = WaitlistEntry.Status.ENDED
        entry.save(update_fields=["status", "updated_at"])
        record_change("waitlist.ended", entry, JOB, {"reason": "joined again"})
        return
    entry.status = WaitlistEntry.Status.WAITING
    entry.save(update_fields=["status", "updated_at"])
    record_change("waitlist.claim_unpaid", entry, JOB)


def _lapse(offer: WaitlistOffer, now: datetime) -> None:
    """End an open offer unclaimed, freeing its held time."""
    offer.status = WaitlistOffer.Status.LAPSED
    offer.save(update_fields=["status"])
    if offer.booking.is_hold_expired(now):
        bookings.expire_booking(offer.booking_id, JOB, now)
    elif offer.booking.status == Booking.Status.HELD:
        bookings.release_hold(offer.booking, JOB, now)
    record_change("waitlist.offer_lapsed", offer.entry, JOB)
    logger.info("Waitlist offer %s lapsed", offer.pk)


def _mark_claimed(entry: WaitlistEntry, offer: WaitlistOffer, actor: Actor) -> None:
    offer.status = WaitlistOffer.Status.CLAIMED
    offer.save(update_fields=["status"])
    entry.status = WaitlistEntry.Status.BOOKED
    entry.save(update_fields=["status", "updated_at"])
    record_change(
        "waitlist.claimed", entry, actor, {"booking": offer.booking.reference}
    )


def _offer_first_free_time(entry: WaitlistEntry, now: datetime) -> int:
    """Hold the earliest free time in the entry's days for it; 1 if offered."""
    window = local_days(entry.first_day, entry.last_day, entry.patient_timezone)
    window = Interval(max(window.start, now), window.end)
    if window.start >= window.end:
        return 0
    offered_before = set(entry.offers.values_list("start", flat=True))
    slots = find_free_slots(entry.provider, entry.appointment_type, window, now)
    for slot in slots:
        if slot.start in offered_before:
            continue
        try:
            return _hold_for_entry(entry, slot.start, now)
        except bookings.SlotUnavailable:
            continue
        except bookings.NotOffered:
            # The provider stopped offering this type: nothing to offer.
            return 0
        except IntegrityError:
            # Another worker has just offered this patient a time.
            return 0
    return 0


def _hold_for_entry(entry: WaitlistEntry, start: datetime, now: datetime) -> int:
    """Hold `start` for the entry and send the patient their claim link.

    Returns 0 when the entry stopped waiting or got an offer meanwhile.
    """
    claim_until = min(
        now + timedelta(minutes=settings.CAREBOOK_WAITLIST_CLAIM_MINUTES), start
    )
    with transaction.atomic():
        entry = _lock_entry(entry.pk)
        is_open = entry.offers.filter(status=WaitlistOffer.Status.OPEN).exists()
        if entry.status != WaitlistEntry.Status.WAITING or is_open:
            return 0

        held = bookings.hold_slot(
            provider=entry.provider,
            appointment_type=entry.appointment_type,
            start=start,
            patient_timezone=entry.patient_timezone,
            patient_language=entry.patient_language,
            source=Booking.Source.WAITLIST,
            actor=JOB,
            now=now,
            hold_until=claim_until,
        )
        booking = held.booking
        booking.patient_name = entry.patient_name
        booking.patient_email = entry.patient_email
        booking.patient_phone = entry.patient_phone
        booking.save(update_fields=["patient_name", "patient_email", "patient_phone"])
        offer = WaitlistOffer.objects.create(
            entry=entry,
            booking=booking,
            start=start,
            offered_at=now,
            expires_at=claim_until,
        )
        record_change(
            "waitlist.offered",
            entry,
            JOB,
            {"booking": booking.reference, "start": start.isoformat()},
        )
        notifications.notify_waitlist_offer(offer)
    logger.info("Waitlist offer %s made to entry %s", offer.pk, entry.pk)
    return 1


def claim_offer(offer: WaitlistOffer, actor: Actor, now=None) -> Booking:
    """Book the offered time for its patient: on to payment, or confirmed.

    From here the booking is the patient's own checkout: it counts as made
    on the web, from the moment of the claim.
    """
    now = now or timezone.now()
    with transaction.atomic():
        entry = _lock_entry(offer.entry_id)
        offer = _lock_offer(offer.pk)
        if offer.status != WaitlistOffer.Status.OPEN:
            raise OfferClosed("This time is no longer held for you.")
        Booking.objects.filter(pk=offer.booking_id).update(
            source=Booking.Source.WEB, held_at=now
        )
        patient = bookings.PatientDetails(
            entry.patient_name, entry.patient_email, entry.patient_phone
        )
        try:
            booking = bookings.add_patient_details(
                offer.booking, patient, booking_url(offer.booking.token), actor, now
            )
        except bookings.WrongState:
            raise OfferClosed("This time is no longer held for you.") from None
        _mark_claimed(entry, offer, actor)
    logger.info("Waitlist offer %s claimed", offer.pk)
    return booking


def decline_offer(offer: WaitlistOffer, actor: Actor) -> None:
    """Give the offered time up, so the next in line is offered it."""
    with transaction.atomic():
        _lock_entry(offer.entry_id)
        _decline(_lock_offer(offer.pk), actor)


def _decline(offer: WaitlistOffer, actor: Actor) -> None:
    if offer.status != WaitlistOffer.Status.OPEN:
        raise OfferClosed("This time is no longer held for you.")
    offer.status = WaitlistOffer.Status.DECLINED
    offer.save(update_fields=["status"])
    bookings.release_hold(offer.booking, actor)
    record_change("waitlist.offer_declined", offer.entry, actor)


def leave_waitlist(entry: WaitlistEntry, actor: Actor) -> None:
    """Take the patient out of the line, giving up any time held for them."""
    with transaction.atomic():
        entry = _lock_entry(entry.pk)
        if entry.status != WaitlistEntry.Status.WAITING:
            raise WaitlistError("You are no longer on this waitlist.")
        entry.status = WaitlistEntry.Status.LEFT
        entry.save(update_fields=["status", "updated_at"])
        record_change("waitlist.left", entry, actor)
        for offer_id in entry.offers.filter(
            status=WaitlistOffer.Status.OPEN
        ).values_list("pk", flat=True):
            _decline(_lock_offer(offer_id), actor)


def end_past_entries(now: datetime | None = None) -> int:
    """End the places whose last day has passed; return how many."""
    now = now or timezone.now()
    # Zones run up to 14 hours ahead of UTC, so a day may have ended there
    # while it is still the day before in UTC.
    candidates = WaitlistEntry.objects.filter(
        status=WaitlistEntry.Status.WAITING,
        last_day__lt=(now + timedelta(days=1)).date(),
    )
    ended = [entry for entry in candidates if _has_ended(entry, now)]
    for entry in ended:
        _end_entry(entry, now)
    return len(ended)


def find_entry_by_token(token: str) -> WaitlistEntry | None:
    """Return the place in line a patient's secret token opens, if any."""
    return (
        WaitlistEntry.objects.select_related("provider__practice", "appointment_type")
        .filter(token_hash=hash_token(token))
        .first()
    )


def find_offer_by_token(token: str) -> WaitlistOffer | None:
    """Return the offer whose held booking the token opens, if any."""
    booking = bookings.find_booking_by_token(token)
    if booking is None:
        return None
    return (
        WaitlistOffer.objects.select_related("entry", "booking")
        .filter(booking=booking)
        .first()
    )
