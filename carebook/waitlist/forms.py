"""Forms of the waitlist pages."""

from django import forms

from carebook.web.forms import DayField, PatientDetailsForm, ZoneField


class JoinForm(PatientDetailsForm):
    """A patient's days and contact details for a place in line."""

    first_day = DayField(label="From")
    last_day = DayField(label="Until")
    timezone = ZoneField(widget=forms.HiddenInput)

    field_order = ["first_day", "last_day", "name", "email", "phone", "timezone"]
