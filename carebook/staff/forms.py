"""Forms of the provider and front-desk pages."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from django import forms

from carebook.bookings.models import Booking
from carebook.contact import check_reachable
from carebook.converters import MAX_ID
from carebook.practice.models import Service, Weekday
from carebook.timezones import is_supported_date
from carebook.web.forms import DayField, PatientDetailsForm

TIME_INPUT = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


def _bookable(start: datetime) -> datetime:
    """Refuse a posted start on a date Carebook does not book."""
    if not is_supported_date(start.date()):
        raise forms.ValidationError("That date cannot be booked.")
    return start


class ScheduleForm(forms.Form):
    """Which day or week of whose schedule to show."""

    day = DayField(required=False)
    view = forms.ChoiceField(choices=[("day", "Day"), ("week", "Week")], required=False)
    provider = forms.IntegerField(required=False, min_value=1, max_value=MAX_ID)


class ServiceChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, service: Service) -> str:
        return (
            f"{service.provider.name}: {service.appointment_type.name} "
            f"({service.appointment_type.duration_minutes} min, "
            f"{service.price_display()})"
        )


class DeskChoiceForm(forms.Form):
    """Which appointment, on which day, the desk looks for a time for."""

    service = ServiceChoiceField(queryset=Service.objects.none(), label="Appointment")
    day = DayField()

    def __init__(self, *args, services, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["service"].queryset = services


class DeskBookingForm(PatientDetailsForm, DeskChoiceForm):
    """A booking the desk makes for a patient: who, when, and how they pay."""

    PAYMENT_CHOICES = [
        (Booking.PaymentPlan.ONLINE, "Now: the patient pays on the card page"),
        (
            Booking.PaymentPlan.LATER,
            "Later: the patient pays online from their link, or at the desk",
        ),
        (Booking.PaymentPlan.DESK, "At the desk, on the day"),
    ]

    start = forms.DateTimeField(widget=forms.HiddenInput, required=False)
    payment_plan = forms.ChoiceField(
        choices=PAYMENT_CHOICES,
        widget=forms.RadioSelect,
        initial=Booking.PaymentPlan.DESK,
        label="Payment",
    )
    field_order = ["service", "day", "start", "name", "email", "phone"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].required = False
        self.fields["email"].help_text = (
            "Confirmation and reminders go here; without one, the patient gets "
            "no emails."
        )

    def clean(self):
        cleaned = super().clean()
        try:
            check_reachable(cleaned.get("email"), cleaned.get("phone"))
        except ValueError as refused:
            self.add_error("email", str(refused))
        return cleaned

    def clean_start(self):
        start = self.cleaned_data["start"]
        if start is None:
            raise forms.ValidationError("Choose a time.")
        return _bookable(start)


class MoveForm(forms.Form):
    """The new start the desk chose for a booking."""

    start = forms.DateTimeField()

    def clean_start(self):
        return _bookable(self.cleaned_data["start"])


class WeeklyHoursForm(forms.Form):
    """One working interval of a weekday."""

    # A new row starts with no day, so a row left alone adds nothing.
    weekday = forms.TypedChoiceField(choices=[("", "—"), *Weekday.choices], coerce=int)
    start_time = forms.TimeField(widget=TIME_INPUT)
    end_time = forms.TimeField(
        widget=TIME_INPUT,
        help_text="At or before the start: runs past midnight.",
    )


class BaseWeeklyHoursFormSet(forms.BaseFormSet):
    def clean(self):
        """Refuse two intervals of one weekday that start at the same time."""
        if any(self.errors):
            return
        seen = set()
        for form in self.forms:
            if not form.cleaned_data or self._should_delete_form(form):
                continue
            key = (form.cleaned_data["weekday"], form.cleaned_data["start_time"])
            if key in seen:
                raise forms.ValidationError(
                    "Two intervals of one weekday start at the same time."
                )
            seen.add(key)


WeeklyHoursFormSet = forms.formset_factory(
    WeeklyHoursForm,
    formset=BaseWeeklyHoursFormSet,
    extra=2,
    can_delete=True,
    max_num=70,
    validate_max=True,
)


class TimeOffForm(forms.Form):
    """A stretch of time off, as wall-clock times in the provider's zone."""

    start_day = DayField(label="From")
    start_time = forms.TimeField(label="at", widget=TIME_INPUT)
    end_day = DayField(label="Until")
    end_time = forms.TimeField(label="at", widget=TIME_INPUT)
    reason = forms.CharField(
        max_length=200, required=False, help_text="Seen by staff only."
    )

    def __init__(self, *args, zone_name: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.zone = ZoneInfo(zone_name)

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        # Compared as instants: two wall times in one zone compare by the
        # clock alone, which a change of the clocks can turn around.
        cleaned["start"] = datetime.combine(
            cleaned["start_day"], cleaned["start_time"], tzinfo=self.zone
        ).astimezone(UTC)
        cleaned["end"] = datetime.combine(
            cleaned["end_day"], cleaned["end_time"], tzinfo=self.zone
        ).astimezone(UTC)
        if cleaned["end"] <= cleaned["start"]:
            self.add_error("end_time", "Time off must end after it starts.")
        return cleaned


class DateHoursForm(forms.Form):
    """The hours of one date, replacing its weekly hours, or none at all."""

    date = DayField()
    is_closed = forms.BooleanField(required=False, label="Closed all day")
    start_time = forms.TimeField(required=False, widget=TIME_INPUT)
    end_time = forms.TimeField(
        required=False,
        widget=TIME_INPUT,
        help_text="At or before the start: runs past midnight.",
    )

    def clean(self):
        cleaned = super().clean()
        if self.errors or cleaned.get("is_closed"):
            return cleaned
        if cleaned.get("start_time") is None:
            self.add_error("start_time", "Give the hours, or mark the day closed.")
        if cleaned.get("end_time") is None:
            self.add_error("end_time", "Give the hours, or mark the day closed.")
        return cleaned

    @property
    def intervals(self) -> list:
        if self.cleaned_data["is_closed"]:
            return []
        return [(self.cleaned_data["start_time"], self.cleaned_data["end_time"])]
