"""Patient pages: find a provider, pick a time, give details, see the booking."""

from collections import Counter
from datetime import date, datetime, timedelta
from itertools import groupby
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core import signing
from django.db.models import Sum
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from carebook.audit.services import Actor
from carebook.bookings import self_service, services
from carebook.bookings.availability import find_free_slots
from carebook.bookings.models import Booking
from carebook.payments import stripe_flow
from carebook.payments.models import Payment, Refund
from carebook.payments.services import checkout_url
from carebook.practice.models import Practice, Provider, Service
from carebook.scheduling import Interval, local_days
from carebook.timezones import is_zone, local_date, parse_day
from carebook.web.forms import HoldForm, PatientDetailsForm, zone_choices
from carebook.web.links import booking_url
from carebook.web.templatetags.carebook import local_day, local_time

DAYS_SHOWN = 7
JOURNEY_SALT = "carebook.web.journey"
SESSION_HOLD = "carebook.hold"


def home(request):
    """List the providers, grouped by specialty."""
    providers = (
        Provider.objects.filter(is_active=True)
        .select_related("practice")
        .prefetch_related("services__appointment_type")
        .order_by("specialty", "name")
    )
    specialties = [
        (specialty, list(group))
        for specialty, group in groupby(providers, key=lambda p: p.specialty)
    ]
    return render(
        request,
        "web/home.html",
        {"practice": Practice.objects.first(), "specialties": specialties},
    )


def provider_page(request, provider_id: int):
    """Show a provider and the appointment types they offer."""
    provider = get_object_or_404(
        Provider.objects.select_related("practice"), pk=provider_id, is_active=True
    )
    services_offered = provider.services.select_related("appointment_type")
    return render(
        request,
        "web/provider.html",
        {"provider": provider, "services": services_offered},
    )


def slot_picker(
    request, provider_id: int, type_slug: str, error: str = "", status: int = 200
):
    """Show a week of free times, day by day, in the patient's zone."""
    service = get_service_or_404(provider_id, type_slug)
    context = _week_of_slots(request, service) | {
        "error": error,
        "slot_action": reverse("web:hold", args=[provider_id, type_slug]),
        "offers_waitlist": True,
    }
    template = "web/_slots.html" if request.htmx else "web/slots.html"
    return render(request, template, context, status=status)


def _week_of_slots(request, service: Service, moving: Booking | None = None) -> dict:
    """Return the free times of a week, in the zone the request asks for.

    For a booking being moved, its own time counts as free, but its current
    start is not offered.
    """
    provider = service.provider
    zone_name = request.GET.get("tz", "")
    if not is_zone(zone_name):
        zone_name = provider.zone_name
    zone = ZoneInfo(zone_name)
    today = local_date(zone_name)
    last_day = today + timedelta(days=provider.practice.horizon_days)
    first_day = parse_day(request.GET.get("from"))
    if first_day is None or not today <= first_day <= last_day:
        first_day = today
    journey = request.GET.get("journey") or _start_journey()

    window = local_days(
        first_day, first_day + timedelta(days=DAYS_SHOWN - 1), zone_name
    )
    slots = find_free_slots(
        provider,
        service.appointment_type,
        window,
        exclude_booking_id=moving.pk if moving else None,
    )
    if moving is not None:
        slots = [slot for slot in slots if slot.start != moving.start]
    return {
        "provider": provider,
        "service": service,
        "zone_name": zone_name,
        "zones": zone_choices(),
        "days": _group_by_day(slots, first_day, zone),
        "journey": journey,
        "previous_day": max(first_day - timedelta(days=DAYS_SHOWN), today),
        "show_previous": first_day > today,
        "next_day": first_day + timedelta(days=DAYS_SHOWN),
        "show_next": first_day + timedelta(days=DAYS_SHOWN) <= last_day,
        "auto_zone": "tz" not in request.GET,
    }


@require_POST
def hold(request, provider_id: int, type_slug: str):
    """Hold the clicked time for the patient, then ask for their details.

    The patient's previous hold in this browser is given up, so clicking
    around never leaves times blocked; clicking the same time again (after
    going back) returns to the same hold.
    """
    service = get_service_or_404(provider_id, type_slug)
    form = HoldForm(request.POST)
    if not form.is_valid():
        return slot_picker(
            request,
            provider_id,
            type_slug,
            error="Please choose a time again.",
            status=400,
        )

    start = form.cleaned_data["start"]
    actor = Actor.for_request(request)
    previous = _session_hold(request)
    if previous is not None:
        booking, token = previous
        if (booking.provider_id, booking.appointment_type_id, booking.start) == (
            service.provider_id,
            service.appointment_type_id,
            start,
        ):
            return redirect("web:details", token=token)
        services.release_hold(booking, actor)

    try:
        held = services.hold_slot(
            provider=service.provider,
            appointment_type=service.appointment_type,
            start=start,
            patient_timezone=form.cleaned_data["timezone"],
            patient_language=translation.get_language_from_request(request),
            source=Booking.Source.WEB,
            actor=actor,
            picker_opened_at=_journey_started(form.cleaned_data["journey"]),
        )
    except services.SlotUnavailable:
        request.GET = request.GET.copy()
        request.GET["tz"] = form.cleaned_data["timezone"]
        return slot_picker(
            request,
            provider_id,
            type_slug,
            error="Sorry, that time is no longer available. Please choose another.",
            status=409,
        )
    request.session[SESSION_HOLD] = held.token
    return redirect("web:details", token=held.token)


def _session_hold(request) -> tuple[Booking, str] | None:
    """Return this browser's current hold and its token, if it still has one."""
    token = request.session.get(SESSION_HOLD)
    booking = services.find_booking_by_token(token) if token else None
    if booking is None or booking.status != Booking.Status.HELD:
        return None
    if booking.is_hold_expired():
        return None
    return booking, token


@never_cache
def details(request, token: str):
    """Ask for the patient's name and contact details for a held time."""
    booking = _get_booking(token)
    if booking.status != Booking.Status.HELD:
        return next_step(booking, token)
    if booking.source == Booking.Source.WAITLIST:
        # A time held for a patient in line is booked from its offer page.
        return redirect("waitlist:offer", token=token)

    form = PatientDetailsForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        try:
            booking = services.add_patient_details(
                booking,
                services.PatientDetails(**form.cleaned_data),
                booking_url(token),
                Actor.for_request(request),
            )
        except services.WrongState as exc:
            booking.refresh_from_db()
            if booking.status != Booking.Status.HELD:
                # A second click on the button: the first one went through.
                return next_step(booking, token)
            error = str(exc)
        else:
            return next_step(booking, token)
    return render(
        request,
        "web/details.html",
        {
            "booking": booking,
            "form": form,
            "error": error,
            "token": token,
            "is_expired": booking.is_hold_expired(),
        },
        status=422 if request.method == "POST" else 200,
    )


@never_cache
def booking_page(request, token: str):
    """Show the booking to the patient: its state and what comes next.

    Coming back from a card processor's page, the patient brings the
    checkout's id: the payment is checked with the processor at once, so the
    page shows the booking confirmed without waiting for the webhook.
    """
    booking = _get_booking(token)
    session_id = request.GET.get("session_id", "")
    if session_id and booking.payments.filter(checkout_reference=session_id).exists():
        stripe_flow.sync_return(session_id)
        return redirect("web:booking", token=token)

    payment = booking.payments.filter(status=Payment.Status.PENDING).first()
    return render(
        request,
        "web/booking.html",
        {
            "booking": booking,
            "token": token,
            "payment_url": checkout_url(payment) if payment else "",
            "is_expired": booking.is_hold_expired(),
            "is_refunded": booking.payments.filter(
                status=Payment.Status.REFUNDED
            ).exists(),
            "refunding": _refunding(booking),
            "cancel_refusal": self_service.patient_change_refusal(
                booking, self_service.CANCELLING
            ),
            "move_refusal": self_service.patient_change_refusal(
                booking, self_service.MOVING
            ),
            "cancel_deadline": self_service.patient_change_deadline(
                booking, self_service.CANCELLING
            ),
            "move_deadline": self_service.patient_change_deadline(
                booking, self_service.MOVING
            ),
            "can_pay_later": services.can_pay_later(booking),
        },
    )


@require_POST
def pay_later(request, token: str):
    """Open the online payment of a booking the desk confirmed unpaid."""
    booking = _get_booking(token)
    try:
        payment = services.start_later_payment(
            booking, booking_url(token), Actor.for_request(request)
        )
    except services.WrongState:
        return redirect("web:booking", token=token)
    return redirect(checkout_url(payment))


@never_cache
def cancel_page(request, token: str):
    """Show what cancelling gives back; cancel only on a POST."""
    booking = _get_booking(token)
    error, status = "", 200
    if request.method == "POST":
        try:
            self_service.cancel_by_patient(booking)
        except services.WrongState as exc:
            error, status = str(exc), 409
        else:
            return redirect("web:booking", token=token)

    refusal = self_service.patient_change_refusal(booking, self_service.CANCELLING)
    return render(
        request,
        "web/cancel.html",
        {
            "booking": booking,
            "token": token,
            "refusal": error or refusal,
            "refund": services.refund_on_cancelling(booking),
            "paid": _paid_online(booking),
        },
        status=status,
    )


@never_cache
def reschedule_page(request, token: str):
    """Offer the free times of the same provider and type; move on a POST."""
    booking = _get_booking(token)
    error, status = "", 200
    if request.method == "POST":
        form = HoldForm(request.POST)
        if not form.is_valid():
            error, status = "Please choose a time again.", 400
        else:
            try:
                booking = self_service.reschedule_by_patient(
                    booking, form.cleaned_data["start"]
                )
            except services.SlotUnavailable:
                error = (
                    "Sorry, that time is no longer available. Please choose another."
                )
                status = 409
            except services.BookingError as exc:
                error, status = str(exc), 409
            else:
                zone = booking.patient_timezone
                messages.success(
                    request,
                    f"Your appointment has moved to {local_day(booking.start, zone)}, "
                    f"{local_time(booking.start, zone)} ({zone}).",
                )
                return redirect("web:booking", token=token)

    context = {"booking": booking, "token": token, "error": error}
    refusal = self_service.patient_change_refusal(booking, self_service.MOVING)
    if refusal:
        context["refusal"] = refusal
    else:
        service = get_service_or_404(booking.provider_id, booking.appointment_type.slug)
        context |= _week_of_slots(request, service, moving=booking) | {
            "slot_action": reverse("web:reschedule", args=[token]),
        }
    template = (
        "web/_slots.html" if request.htmx and not refusal else "web/reschedule.html"
    )
    return render(request, template, context, status=status)


def _refunding(booking: Booking) -> int:
    """Return what is being or has been given back to the patient."""
    refunds = Refund.objects.filter(payment__booking=booking).exclude(
        status=Refund.Status.FAILED
    )
    return refunds.aggregate(total=Sum("amount"))["total"] or 0


def _paid_online(booking: Booking) -> int:
    paid = booking.payments.filter(
        status__in=(Payment.Status.SUCCEEDED, Payment.Status.REFUNDED)
    )
    return sum(payment.amount for payment in paid)


def next_step(booking: Booking, token: str) -> HttpResponseRedirect:
    """Send the patient to pay, when payment is due, or to their booking."""
    payment = booking.payments.filter(status=Payment.Status.PENDING).first()
    if payment is not None and not booking.is_hold_expired():
        return redirect(checkout_url(payment))
    return redirect("web:booking", token=token)


def get_service_or_404(provider_id: int, type_slug: str) -> Service:
    """Return an active provider's service of one appointment type, or 404."""
    return get_object_or_404(
        Service.objects.select_related(
            "provider__practice", "appointment_type__practice"
        ),
        provider_id=provider_id,
        provider__is_active=True,
        appointment_type__slug=type_slug,
    )


def _get_booking(token: str) -> Booking:
    booking = services.find_booking_by_token(token)
    if booking is None:
        raise Http404("No such booking")
    return booking


def _slot_label(slot: Interval, zone: ZoneInfo, repeated: set[str]) -> str:
    """Return '09:30', or '01:30 IST' where clocks going back repeat the time."""
    local = slot.start.astimezone(zone)
    label = local.strftime("%H:%M")
    return f"{label} {local.tzname()}" if label in repeated else label


def _group_by_day(slots: list[Interval], first_day: date, zone: ZoneInfo) -> list:
    """Return each shown day with its (slot, label) pairs, empty days too."""
    by_day = {first_day + timedelta(days=n): [] for n in range(DAYS_SHOWN)}
    for slot in slots:
        day = slot.start.astimezone(zone).date()
        if day in by_day:
            by_day[day].append(slot)

    labelled = []
    for day, day_slots in by_day.items():
        times = Counter(
            slot.start.astimezone(zone).strftime("%H:%M") for slot in day_slots
        )
        repeated = {time for time, count in times.items() if count > 1}
        labelled.append(
            (day, [(slot, _slot_label(slot, zone, repeated)) for slot in day_slots])
        )
    return labelled


def _start_journey() -> str:
    """Return a signed note of when the patient opened the slot picker."""
    return signing.dumps(timezone.now().isoformat(), salt=JOURNEY_SALT)


def _journey_started(journey: str) -> datetime | None:
    """Return when the slot picker was opened, if the note is genuine."""
    try:
        opened = signing.loads(journey, salt=JOURNEY_SALT, max_age=86400)
    except signing.BadSignature:
        return None
    return datetime.fromisoformat(opened)
