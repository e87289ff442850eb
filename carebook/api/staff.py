"""The dashboard's figures for staff programs, with an API token."""

from datetime import date
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import timezone
from ninja import Router, Schema
from ninja.errors import HttpError, ValidationError
from ninja.security import HttpBearer
from pydantic import Field

from carebook.analytics.figures import Figures, compute_figures
from carebook.analytics.forms import FigureFilterForm
from carebook.api.schemas import PriceOut
from carebook.practice.models import Practice
from carebook.staff.roles import figures_provider_for
from carebook.staff.tokens import find_api_token_user


class StaffToken(HttpBearer):
    openapi_scheme = "bearer"

    def authenticate(self, request, token):
        return find_api_token_user(token)


router = Router(tags=["staff"], auth=StaffToken())


class DayOut(Schema):
    day: date
    bookings_made: int
    appointments: dict[str, int] = Field(description="Appointments that day by status.")


class RevenueDayOut(Schema):
    day: date
    taken: PriceOut
    refunded: PriceOut
    net: PriceOut


class ProviderFiguresOut(Schema):
    id: int
    name: str
    bookings: int
    net_revenue: list[PriceOut]


class AppointmentTypeOut(Schema):
    id: int
    name: str
    bookings: int
    share: float


class TimeToBookOut(Schema):
    bookings: int
    median_seconds: float | None
    p90_seconds: float | None


class DeclineOut(Schema):
    reason: str
    count: int


class PaymentsOut(Schema):
    attempts: int
    succeeded: int
    success_rate: float | None
    declines: list[DeclineOut]


class AttendanceOut(Schema):
    appointments: int
    cancelled: int
    cancellation_rate: float | None
    due: int = Field(description="Appointments not cancelled whose time has come.")
    no_shows: int
    no_show_rate: float | None


class FiguresOut(Schema):
    start: date
    end: date
    timezone: str
    provider: int | None
    appointment_type: str | None
    bookings_made: int
    checkouts_started: int
    checkouts_completed: int
    conversion_rate: float | None
    days: list[DayOut]
    revenue: list[RevenueDayOut]
    providers: list[ProviderFiguresOut] = Field(description="Ranked by bookings.")
    appointment_types: list[AppointmentTypeOut]
    time_to_book: TimeToBookOut
    payments: PaymentsOut
    attendance: AttendanceOut


@router.get("/dashboard", response=FiguresOut)
def dashboard(
    request,
    start: date | None = None,
    end: date | None = None,
    provider: int | None = None,
    appointment_type: str | None = None,
):
    """Return the dashboard's figures for local days `start` to `end`.

    The owner sees the practice's figures, or one provider's; a provider
    sees only their own; front-desk tokens are refused. Without dates, the
    last 30 days up to today.
    """
    practice = Practice.objects.first()
    if practice is None:
        raise Http404("No practice is loaded yet.")
    try:
        provider_id = figures_provider_for(request.auth, provider)
    except PermissionDenied as error:
        raise HttpError(403, str(error)) from None

    today = timezone.now().astimezone(ZoneInfo(practice.timezone)).date()
    form = FigureFilterForm(request.GET, practice, today)
    if provider_id is not None:
        form.data["provider"] = str(provider_id)
    if not form.is_valid():
        raise ValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ["query", name],
                    "msg": " ".join(messages),
                }
                for name, messages in form.errors.items()
            ]
        )
    figures = compute_figures(form.figure_filter(provider_id))
    return figures_out(figures, practice, form.cleaned_data["appointment_type"])


def figures_out(figures: Figures, practice: Practice, appointment_type) -> FiguresOut:
    figure_filter = figures.filter
    return FiguresOut(
        start=figure_filter.start,
        end=figure_filter.end,
        timezone=practice.timezone,
        provider=figure_filter.provider_id,
        appointment_type=appointment_type.slug if appointment_type else None,
        bookings_made=figures.bookings_made,
        checkouts_started=figures.checkouts_started,
        checkouts_completed=figures.checkouts_completed,
        conversion_rate=figures.conversion_rate,
        days=[
            DayOut(day=day.day, bookings_made=day.made, appointments=day.appointments)
            for day in figures.days
        ],
        revenue=[
            RevenueDayOut(
                day=row.day,
                taken=PriceOut.of(row.taken, row.currency),
                refunded=PriceOut.of(row.refunded, row.currency),
                net=PriceOut.of(row.net, row.currency),
            )
            for row in figures.revenue_days
        ],
        providers=[
            ProviderFiguresOut(
                id=row.provider_id,
                name=row.name,
                bookings=row.bookings,
                net_revenue=[
                    PriceOut.of(amount, currency)
                    for currency, amount in sorted(row.revenue.items())
                ],
            )
            for row in figures.providers
        ],
        appointment_types=[
            AppointmentTypeOut(
                id=row.appointment_type_id,
                name=row.name,
                bookings=row.bookings,
                share=row.share,
            )
            for row in figures.appointment_types
        ],
        time_to_book=TimeToBookOut(**vars(figures.time_to_book)),
        payments=PaymentsOut(
            attempts=figures.payments.attempts,
            succeeded=figures.payments.succeeded,
            success_rate=figures.payments.success_rate,
            declines=[
                DeclineOut(reason=reason, count=count)
                for reason, count in figures.payments.declines
            ],
        ),
        attendance=AttendanceOut(
            appointments=figures.attendance.appointments,
            cancelled=figures.attendance.cancelled,
            cancellation_rate=figures.attendance.cancellation_rate,
            due=figures.attendance.due,
            no_shows=figures.attendance.no_shows,
            no_show_rate=figures.attendance.no_show_rate,
        ),
    )
