from datetime import date, timedelta
from zoneinfo import ZoneInfo

from django import forms

from carebook.analytics.filters import LONGEST_RANGE_DAYS, FigureFilter
from carebook.practice.models import AppointmentType, Practice, Provider
from carebook.timezones import parse_day
from carebook.web.forms import DayField

DEFAULT_RANGE_DAYS = 30


class FigureFilterForm(forms.Form):
    """The dashboard's range and narrowing, as query parameters."""

    start = DayField(label="From")
    end = DayField(label="To")
    provider = forms.ModelChoiceField(
        queryset=Provider.objects.order_by("name"),
        required=False,
        empty_label="All providers",
    )
    appointment_type = forms.ModelChoiceField(
        queryset=AppointmentType.objects.order_by("name"),
        required=False,
        empty_label="All appointment types",
        to_field_name="slug",
    )

    def __init__(self, data, practice: Practice, today: date):
        self.practice = practice
        data = data.copy()
        # Without a range, the 30 days up to today, or up to the end given.
        data.setdefault("end", today.isoformat())
        last_day = parse_day(data["end"]) or today
        data.setdefault(
            "start", (last_day - timedelta(days=DEFAULT_RANGE_DAYS - 1)).isoformat()
        )
        super().__init__(data)

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and not self.errors:
            if end < start:
                self.add_error("end", "The range must end on or after its start.")
            elif (end - start).days >= LONGEST_RANGE_DAYS:
                self.add_error(
                    "end", f"A range is at most {LONGEST_RANGE_DAYS} days long."
                )
        return cleaned

    def figure_filter(self, provider_id: int | None) -> FigureFilter:
        """Return the filter the valid form asks for, for `provider_id`."""
        appointment_type = self.cleaned_data["appointment_type"]
        return FigureFilter(
            start=self.cleaned_data["start"],
            end=self.cleaned_data["end"],
            zone=ZoneInfo(self.practice.timezone),
            provider_id=provider_id,
            appointment_type_id=appointment_type.pk if appointment_type else None,
        )
