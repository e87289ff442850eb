"""Forms of the waitlist pages."""

from django import forms

from carebook.timezones import is_supported_date, is_zone
from carebook.web.forms import PatientDetailsForm


class JoinForm(PatientDetailsForm):
    """A patient's days and contact details for a place in line."""

    first_day = forms.DateField(
        label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    last_day = forms.DateField(
        label="Until", widget=forms.DateInput(attrs={"type": "date"})
    )
    timezone = forms.CharField(max_length=64, widget=forms.HiddenInput)

    field_order = ["first_day", "last_day", "name", "email", "phone", "timezone"]

    def clean_first_day(self):
        return _supported(self.cleaned_data["first_day"])

    def clean_last_day(self):
        return _supported(self.cleaned_data["last_day"])

    def clean_timezone(self):
        zone = self.cleaned_data["timezone"]
        if not is_zone(zone):
            raise forms.ValidationError("Unknown time zone.")
        return zone


def _supported(day):
    if not is_supported_date(day):
        raise forms.ValidationError("That date cannot be booked.")
    return day
