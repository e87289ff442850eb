"""Provider and front-desk pages: the day's schedule, bookings, hours.

Every page needs a login and a staff role; a provider sees and changes only
their own schedule. Times are the practice's wall clock, which the
practice time zone middleware makes the current zone.
"""

from datetime import date, datetime, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from carebook.audit.models import AuditEntry
from carebook.audit.services import Actor
from carebook.bookings import services
from carebook.bookings.availability import find_free_slots
from carebook.bookings.models import Booking
from carebook.notifications.rendering import language_for
from carebook.payments.models import Payment
from carebook.payments.services import checkout_url
from carebook.practice import services as practice_services
from carebook.practice.models import Practice, Provider, Service, TimeOff, Weekday
from carebook.scheduling import Interval, local_days
from carebook.staff.forms import (
    DateHoursForm,
    DeskBookingForm,
    DeskChoiceForm,
    MoveForm,
    ScheduleForm,
    TimeOffForm,
    WeeklyHoursFormSet,
)
from carebook.staff.roles import check_schedule_access, role_of, schedule_scope
from carebook.timezones import local_date
from carebook.web.links import booking_url

# Statuses the schedule lists; expired holds are left out.
SCHEDULE_STATUSES = (*Booking.HOLDING_STATUSES, Booking.Status.CANCELLED)
ATTENDANCE_ACTIONS = {
    "completed": Booking.Status.COMPLETED,
    "no-show": Booking.Status.NO_SHOW,
}


def _render(request, template: str, context: dict, status: int = 200):
    """Render a staff page, which shows the links the user's role may follow."""
    context["staff_role"] = role_of(request.user)
    return render(request, template, context, status=status)


def _practice() -> Practice:
    practice = Practice.objects.first()
    if practice is None:
        raise Http404("No practice is loaded yet.")
    return practice


def _visible_providers(user):
    scope = schedule_scope(user)
    providers = Provider.objects.filter(is_active=True).order_by("name")
    return providers if scope is None else providers.filter(pk=scope)


@login_required
def schedule(request):
    """Show one day, or a week from Monday, of the visible providers."""
    practice = _practice()
    visible = providers = _visible_providers(request.user)
    form = ScheduleForm(request.GET)
    form.is_valid()
    today = local_date(practice.timezone)
    day = form.cleaned_data.get("day") or today
    view = form.cleaned_data.get("view") or "day"
    # A provider asking for someone else's schedule sees their own.
    chosen = form.cleaned_data.get("provider")
    if chosen and visible.filter(pk=chosen).exists():
        providers = visible.filter(pk=chosen)
    else:
        chosen = None

    first = day - timedelta(days=day.weekday()) if view == "week" else day
    length = 7 if view == "week" else 1
    shown = local_days(first, first + timedelta(days=length - 1), practice.timezone)
    time_off = TimeOff.objects.filter(
        provider__in=providers, start__lt=shown.end, end__gt=shown.start
    ).select_related("provider")
    return _render(
        request,
        "staff/schedule.html",
        {
            "practice": practice,
            "form": form,
            "view": view,
            "day": day,
            "days": _bookings_by_day(providers, first, length, shown, practice),
            "providers": visible,
            "chosen": chosen,
            "time_off": time_off,
            "previous_day": first - timedelta(days=length),
            "next_day": first + timedelta(days=length),
            "today": today,
        },
    )


def _bookings_by_day(
    providers, first: date, length: int, shown: Interval, practice: Practice
) -> list:
    """Return each of `length` days from `first` with the bookings starting on it.

    `shown` is those days as instants.
    """
    bookings = (
        Booking.objects.filter(
            provider__in=providers,
            status__in=SCHEDULE_STATUSES,
            start__lt=shown.end,
            end__gt=shown.start,
        )
        .select_related("provider", "appointment_type")
        .order_by("start", "provider__name")
    )
    by_day = {first + timedelta(days=offset): [] for offset in range(length)}
    for booking in bookings:
        day = local_date(practice.timezone, booking.start)
        if day in by_day:
            by_day[day].append(booking)
    return list(by_day.items())


def _get_booking(request, reference: str) -> Booking:
    booking = get_object_or_404(
        Booking.objects.select_related("provider__practice", "appointment_type"),
        reference=reference,
    )
    check_schedule_access(request.user, booking.provider_id)
    return booking


@login_required
def booking_detail(request, reference: str):
    """Show a booking with what the desk can do with it now."""
    booking = _get_booking(request, reference)
    now = timezone.now()
    open_payment = booking.payments.filter(status=Payment.Status.PENDING).first()
    history = AuditEntry.objects.filter(
        object_type="bookings.booking", object_id=str(booking.pk)
    ).select_related("actor_user")
    practice = booking.provider.practice
    return _render(
        request,
        "staff/booking.html",
        {
            "practice": practice,
            "booking": booking,
            "payments": booking.payments.all(),
            "payment_url": checkout_url(open_payment) if open_payment else "",
            "history": history,
            "can_arrive": booking.arrived_at is None
            and not services.arrival_refusal(booking, now),
            "can_mark": not services.attendance_refusal(booking, now),
            "can_cancel": booking.status
            in (Booking.Status.CONFIRMED, Booking.Status.PENDING_PAYMENT),
            "refund": services.refund_on_cancelling(booking, now),
        },
    )


@login_required
@require_POST
def mark_booking(request, reference: str, action: str):
    """Mark a booking arrived, completed or a no-show, or cancel it."""
    booking = _get_booking(request, reference)
    actor = Actor.for_request(request)
    try:
        if action == "arrived":
            services.record_arrival(booking, actor)
            done = "marked arrived"
        elif action == "cancel":
            services.cancel_booking(booking, actor)
            done = "cancelled"
        elif action in ATTENDANCE_ACTIONS:
            services.record_attendance(booking, ATTENDANCE_ACTIONS[action], actor)
            done = "marked completed" if action == "completed" else "marked a no-show"
        else:
            raise Http404("No such action.")
    except services.BookingError as refused:
        messages.error(request, f"{booking.reference}: {refused}")
    else:
        messages.success(request, f"{booking.reference} {done}.")
    return redirect("staff:booking", reference=booking.reference)


@login_required
def move_booking(request, reference: str):
    """Offer a day's free times of the same kind; move the booking on a POST."""
    booking = _get_booking(request, reference)
    practice = booking.provider.practice
    service = get_object_or_404(
        Service.objects.select_related("provider", "appointment_type__practice"),
        provider=booking.provider,
        appointment_type=booking.appointment_type,
    )
    chooser = DeskChoiceForm(
        request.GET or None,
        services=Service.objects.filter(pk=service.pk),
        initial={
            "service": service.pk,
            "day": local_date(practice.timezone, booking.start),
        },
    )
    day = _chosen_service_and_day(chooser)[1] or local_date(
        practice.timezone, booking.start
    )
    status = 200
    if request.method == "POST":
        form = MoveForm(request.POST)
        if form.is_valid():
            try:
                services.reschedule_booking(
                    booking, form.cleaned_data["start"], Actor.for_request(request)
                )
            except services.BookingError as refused:
                messages.error(request, f"{booking.reference}: {refused}")
                status = 409
            else:
                messages.success(request, f"{booking.reference} moved.")
                return redirect("staff:booking", reference=booking.reference)
        else:
            status = 422
        day = local_date(
            practice.timezone, form.cleaned_data.get("start") or booking.start
        )

    slots = [
        slot
        for slot in _desk_slots(service, day, practice, moving=booking)
        if slot.start != booking.start
    ]
    return _render(
        request,
        "staff/move.html",
        {
            "practice": practice,
            "booking": booking,
            "chooser": chooser,
            "day": day,
            "slots": slots,
            "can_move": booking.status == Booking.Status.CONFIRMED,
        },
        status=status,
    )


@login_required
def book_for_patient(request):
    """Book a free time for a patient at the desk or on the phone.

    A GET chooses the appointment and the day and lists its free times; the
    POST books one of them.
    """
    practice = _practice()
    offered = (
        Service.objects.filter(provider__in=_visible_providers(request.user))
        .select_related("provider__practice", "appointment_type__practice")
        .order_by("provider__name", "appointment_type__name")
    )
    today = local_date(practice.timezone)
    chooser = DeskChoiceForm(
        request.GET or None, services=offered, initial={"day": today}
    )
    status = 200
    if request.method == "POST":
        form = DeskBookingForm(request.POST, services=offered)
        status = 422
        if form.is_valid():
            booking, error = _book(request, form, practice)
            if booking is not None:
                messages.success(request, f"Booked {booking.reference}.")
                return redirect("staff:booking", reference=booking.reference)
            form.add_error(None, error)
            status = 409
        chosen = form
    else:
        chosen = chooser
        form = DeskBookingForm(
            services=offered,
            initial={
                "service": request.GET.get("service"),
                "day": request.GET.get("day", today),
            },
        )

    service, day = _chosen_service_and_day(chosen)
    slots = _desk_slots(service, day, practice)
    return _render(
        request,
        "staff/book.html",
        {
            "practice": practice,
            "chooser": chooser,
            "form": form,
            "service": service,
            "day": day,
            "slots": slots,
            "next_free": None if slots else _next_free_slot(service, day, practice),
        },
        status=status,
    )


def _chosen_service_and_day(form) -> tuple:
    if not form.is_bound:
        return None, None
    form.is_valid()
    return form.cleaned_data.get("service"), form.cleaned_data.get("day")


def _desk_slots(
    service: Service | None, day: date | None, practice, moving=None
) -> list:
    """Return the free times of the chosen service on the chosen day.

    For a booking being moved, its own time counts as free.
    """
    if service is None or day is None:
        return []
    return find_free_slots(
        service.provider,
        service.appointment_type,
        local_days(day, day, practice.timezone),
        exclude_booking_id=moving.pk if moving else None,
    )


def _next_free_slot(service: Service | None, day: date | None, practice):
    """Return the first free time after `day` within the booking horizon."""
    if service is None or day is None:
        return None
    after = local_days(
        day + timedelta(days=1),
        day + timedelta(days=practice.horizon_days),
        practice.timezone,
    )
    slots = find_free_slots(service.provider, service.appointment_type, after)
    return slots[0] if slots else None


def _book(request, form: DeskBookingForm, practice: Practice):
    """Make the desk's booking; return it, or None and the reason."""
    data = form.cleaned_data
    service = data["service"]
    try:
        held = services.book_slot(
            provider=service.provider,
            appointment_type=service.appointment_type,
            start=data["start"],
            patient_timezone=practice.timezone,
            patient_language=language_for(practice.locale),
            source=Booking.Source.STAFF,
            actor=Actor.for_request(request),
            patient=services.PatientDetails(data["name"], data["email"], data["phone"]),
            payment_plan=data["payment_plan"],
            # Whoever pays on the card page, the patient or the desk for
            # them, lands on the patient's own page for the booking.
            return_url_for=booking_url,
        )
    except services.BookingError as refused:
        return None, str(refused)
    return held.booking, ""


def _get_provider(request, provider_id: int) -> Provider:
    provider = get_object_or_404(
        Provider.objects.select_related("practice"), pk=provider_id
    )
    check_schedule_access(request.user, provider.pk)
    return provider


@login_required
def hours_index(request):
    """Open the hours of the first provider the user may change."""
    provider = _visible_providers(request.user).first()
    if provider is None:
        raise Http404("No provider to show.")
    return redirect("staff:hours", provider_id=provider.pk)


@login_required
def hours(request, provider_id: int):
    """Show a provider's weekly hours, date hours and time off, to change."""
    return _render_hours(request, _get_provider(request, provider_id))


def _render_hours(
    request, provider, weekly=None, time_off_form=None, date_form=None, status=200
):
    now = timezone.now()
    weekly = weekly or WeeklyHoursFormSet(
        prefix="hours",
        initial=[
            {
                "weekday": row.weekday,
                "start_time": row.start_time,
                "end_time": row.end_time,
            }
            for row in provider.weekly_hours.all()
        ],
    )
    return _render(
        request,
        "staff/hours.html",
        {
            "practice": provider.practice,
            "provider": provider,
            "providers": _visible_providers(request.user),
            "weekly": weekly,
            "time_off_form": time_off_form
            or TimeOffForm(prefix="off", zone_name=provider.zone_name),
            "date_form": date_form or DateHoursForm(prefix="date"),
            "time_off": provider.time_off.filter(end__gt=now),
            "date_hours": provider.date_overrides.filter(
                date__gte=local_date(provider.zone_name, now)
            ),
        },
        status=status,
    )


@login_required
@require_POST
def save_weekly_hours(request, provider_id: int):
    """Replace the provider's weekly hours with the posted intervals."""
    provider = _get_provider(request, provider_id)
    weekly = WeeklyHoursFormSet(request.POST, prefix="hours")
    if not weekly.is_valid():
        return _render_hours(request, provider, weekly=weekly, status=422)

    intervals = [
        practice_services.WorkingInterval(
            form.cleaned_data["weekday"],
            form.cleaned_data["start_time"],
            form.cleaned_data["end_time"],
        )
        for form in weekly.forms
        if form.cleaned_data and not form.cleaned_data.get("DELETE")
    ]
    practice_services.replace_weekly_hours(
        provider, intervals, Actor.for_request(request)
    )
    messages.success(request, f"Weekly hours of {provider.name} saved.")
    overnight = [
        f"{Weekday(interval.weekday).label} {interval.start_time:%H:%M}–"
        f"{interval.end_time:%H:%M}"
        for interval in intervals
        if interval.end_time <= interval.start_time
    ]
    if overnight:
        messages.warning(
            request,
            f"These hours run past midnight into the next day: {', '.join(overnight)}.",
        )
    return redirect("staff:hours", provider_id=provider.pk)


def _day_label(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def _name_bookings_inside(
    request, provider: Provider, start: datetime, end: datetime, where: str
) -> None:
    """Warn of the bookings in [start, end) whose hours changed under them.

    They stay booked: the desk moves or cancels them.
    """
    inside = practice_services.bookings_during(provider, start, end)
    if inside:
        references = ", ".join(booking.reference for booking in inside)
        messages.warning(
            request,
            f"These bookings {where} and stay booked until moved or cancelled: "
            f"{references}.",
        )


@login_required
@require_POST
def add_time_off(request, provider_id: int):
    """Block a stretch of the provider's time; warn of bookings inside it."""
    provider = _get_provider(request, provider_id)
    form = TimeOffForm(request.POST, prefix="off", zone_name=provider.zone_name)
    if not form.is_valid():
        return _render_hours(request, provider, time_off_form=form, status=422)

    data = form.cleaned_data
    practice_services.add_time_off(
        provider, data["start"], data["end"], data["reason"], Actor.for_request(request)
    )
    messages.success(request, f"Time off added for {provider.name}.")
    _name_bookings_inside(
        request, provider, data["start"], data["end"], "fall in the time off"
    )
    return redirect("staff:hours", provider_id=provider.pk)


@login_required
@require_POST
def remove_time_off(request, provider_id: int, time_off_id: int):
    provider = _get_provider(request, provider_id)
    time_off = get_object_or_404(TimeOff, pk=time_off_id, provider=provider)
    practice_services.remove_time_off(time_off, Actor.for_request(request))
    messages.success(request, f"Time off removed for {provider.name}.")
    return redirect("staff:hours", provider_id=provider.pk)


@login_required
@require_POST
def set_date_hours(request, provider_id: int):
    """Replace the provider's hours on one date, or close it."""
    provider = _get_provider(request, provider_id)
    form = DateHoursForm(request.POST, prefix="date")
    if not form.is_valid():
        return _render_hours(request, provider, date_form=form, status=422)

    practice_services.set_date_hours(
        provider,
        form.cleaned_data["date"],
        form.intervals,
        Actor.for_request(request),
    )
    day = form.cleaned_data["date"]
    messages.success(request, f"Hours of {_day_label(day)} saved.")
    if any(end <= start for start, end in form.intervals):
        messages.warning(request, "These hours run past midnight into the next day.")
    on_the_day = local_days(day, day, provider.zone_name)
    _name_bookings_inside(
        request, provider, on_the_day.start, on_the_day.end, f"are on {_day_label(day)}"
    )
    return redirect("staff:hours", provider_id=provider.pk)


@login_required
@require_POST
def clear_date_hours(request, provider_id: int, day: str):
    provider = _get_provider(request, provider_id)
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        raise Http404("Not a date.") from None
    practice_services.clear_date_hours(provider, parsed, Actor.for_request(request))
    messages.success(request, f"Weekly hours apply again on {_day_label(parsed)}.")
    return redirect("staff:hours", provider_id=provider.pk)
