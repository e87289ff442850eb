"""Forms of the patient pages."""

from datetime import datetime

from django import forms

from carebook.contact import clean_phone
from carebook.timezones import all_zones, is_supported_date, is_zone


class PatientDetailsForm(forms.Form):
    name = forms.CharField(label="Full name", max_length=200)
    email = forms.EmailField(label="Email address")
    phone = forms.CharField(
        label="Phone number",
        max_length=40,
        required=False,
        help_text="Optional: so the practice can reach you about this visit.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].widget.attrs["autocomplete"] = "name"
        self.fields["email"].widget.attrs["autocomplete"] = "email"
        self.fields["phone"].widget.input_type = "tel"
        self.fields["phone"].widget.attrs["autocomplete"] = "tel"

    def clean_phone(self):
        try:
            return clean_phone(self.cleaned_data["phone"])
        except ValueError as refused:
            raise forms.ValidationError(str(refused)) from None


class DayField(forms.DateField):
    """A date picked in the browser, within the dates Carebook works with.

    Only as the browser sends it, YYYY-MM-DD: 12/01/2026 is the first of
    December in some countries and the twelfth of January in others.
    """

    widget = forms.DateInput(attrs={"type": "date"})
    input_formats = ["%Y-%m-%d"]

    def validate(self, value):
        super().validate(value)
        if value is not None and not is_supported_date(value):
            raise forms.ValidationError("Enter a date from 2000 to 2199.")


class ZoneField(forms.CharField):
    """An IANA time zone name."""

    def __init__(self, **kwargs):
        super().__init__(max_length=64, **kwargs)

    def validate(self, value):
        super().validate(value)
        if value and not is_zone(value):
            raise forms.ValidationError("Unknown time zone.")


class HoldForm(forms.Form):
    """A click on a slot: which time, in which zone, since when looking."""

    start = forms.CharField(max_length=40)
    timezone = ZoneField()
    journey = forms.CharField(required=False, max_length=200)

    def clean_start(self):
        try:
            start = datetime.fromisoformat(self.cleaned_data["start"])
        except ValueError:
            raise forms.ValidationError("Not a time.") from None
        if start.tzinfo is None:
            raise forms.ValidationError("The time needs its UTC offset.")
        if not is_supported_date(start.date()):
            raise forms.ValidationError("That date cannot be booked.")
        return start


def zone_choices() -> list[tuple[str, str]]:
    return [(zone, zone.replace("_", " ")) for zone in all_zones()]
