"""Forms of the patient pages."""

from django import forms

from carebook.timezones import all_zones, is_zone


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
        self.fields["phone"].widget.attrs.update(autocomplete="tel", type="tel")


class HoldForm(forms.Form):
    """A click on a slot: which time, in which zone, since when looking."""

    start = forms.DateTimeField()
    timezone = forms.CharField(max_length=64)
    journey = forms.CharField(required=False, max_length=200)

    def clean_start(self):
        start = self.cleaned_data["start"]
        if start.tzinfo is None:
            raise forms.ValidationError("The time needs its UTC offset.")
        return start

    def clean_timezone(self):
        zone = self.cleaned_data["timezone"]
        if not is_zone(zone):
            raise forms.ValidationError("Unknown time zone.")
        return zone


def zone_choices() -> list[tuple[str, str]]:
    return [(zone, zone.replace("_", " ")) for zone in all_zones()]
