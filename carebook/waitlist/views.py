"""Waitlist pages: join, see or leave a place in line, claim an offered time."""

from datetime import timedelta

from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import translation
from django.views.decorators.cache import never_cache

from carebook.audit.services import Actor
from carebook.bookings.services import PatientDetails
from carebook.timezones import is_zone, local_date, parse_day
from carebook.waitlist import services
from carebook.waitlist.forms import JoinForm
from carebook.waitlist.models import WaitlistEntry, WaitlistOffer
from carebook.web.views import get_service_or_404, next_step

DAYS_SUGGESTED = 7


def join_page(request, provider_id: int, type_slug: str):
    """Ask for the days and contact details of a new place in line."""
    service = get_service_or_404(provider_id, type_slug)
    zone_name = request.GET.get("tz", "")
    if not is_zone(zone_name):
        zone_name = service.provider.zone_name
    today = local_date(zone_name)
    # The week the patient was looking at, when the slot picker says.
    looked_at = parse_day(request.GET.get("from"))
    last_day = today + timedelta(days=service.provider.practice.horizon_days)
    first_day = min(max(looked_at or today, today), last_day)
    form = JoinForm(
        request.POST or None,
        initial={
            "first_day": first_day,
            "last_day": first_day + timedelta(days=DAYS_SUGGESTED - 1),
            "timezone": zone_name,
        },
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        zone_name = data["timezone"]
        try:
            joined = services.join_waitlist(
                service=service,
                first_day=data["first_day"],
                last_day=data["last_day"],
                patient=PatientDetails(data["name"], data["email"], data["phone"]),
                patient_timezone=data["timezone"],
                patient_language=translation.get_language_from_request(request),
                actor=Actor.for_request(request),
            )
        except services.WaitlistError as refused:
            form.add_error(refused.field or None, str(refused))
        else:
            return redirect("waitlist:entry", token=joined.token)

    return render(
        request,
        "waitlist/join.html",
        {
            "service": service,
            "provider": service.provider,
            "form": form,
            "zone_name": zone_name,
        },
        status=422 if request.method == "POST" else 200,
    )


@never_cache
def entry_page(request, token: str):
    """Show the patient's place in line; leave it on a POST."""
    entry = services.find_entry_by_token(token)
    if entry is None:
        raise Http404("No such place on the waitlist")
    error, status = "", 200
    if request.method == "POST":
        try:
            services.leave_waitlist(entry, Actor.for_request(request))
        except services.WaitlistError as refused:
            error, status = str(refused), 409
        else:
            return redirect("waitlist:entry", token=token)

    open_offer = entry.offers.filter(status=WaitlistOffer.Status.OPEN).first()
    return render(
        request,
        "waitlist/entry.html",
        {
            "entry": entry,
            "token": token,
            "error": error,
            "is_waiting": entry.status == WaitlistEntry.Status.WAITING,
            "offer_token": open_offer.booking.token if open_offer else "",
        },
        status=status,
    )


@never_cache
def offer_page(request, token: str):
    """Show a time held for a patient in line; book or decline it on a POST."""
    offer = services.find_offer_by_token(token)
    if offer is None:
        raise Http404("No such offer")
    error, status = "", 200
    if request.method == "POST":
        actor = Actor.for_request(request)
        try:
            if request.POST.get("choice") == "decline":
                services.decline_offer(offer, actor)
                return redirect("waitlist:entry", token=offer.entry.token)
            booking = services.claim_offer(offer, actor)
        except services.WaitlistError as refused:
            error, status = str(refused), 409
        else:
            return next_step(booking, token)
        offer.refresh_from_db()

    booking = offer.booking
    is_open = (
        offer.status == WaitlistOffer.Status.OPEN and not booking.is_hold_expired()
    )
    return render(
        request,
        "waitlist/offer.html",
        {
            "offer": offer,
            "booking": booking,
            "token": token,
            "entry_token": offer.entry.token,
            "is_open": is_open,
            "error": error,
        },
        status=status,
    )
