from django import forms
from django.utils import timezone


class DemoCardForm(forms.Form):
    """The demo gateway's card form: test numbers only, nothing is stored."""

    card_number = forms.CharField(label="Card number", max_length=23)
    expiry = forms.RegexField(
        label="Expiry (MM/YY)",
        regex=r"^(0[1-9]|1[0-2])\s*/\s*\d{2}$",
        error_messages={"invalid": "Enter the expiry as MM/YY."},
    )
    cvc = forms.RegexField(
        label="Security code (CVC)",
        regex=r"^\d{3,4}$",
        error_messages={"invalid": "Enter the 3 or 4 digits on the back."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["card_number"].widget.attrs.update(
            autocomplete="cc-number", inputmode="numeric"
        )
        self.fields["expiry"].widget.attrs["autocomplete"] = "cc-exp"
        self.fields["cvc"].widget.attrs.update(
            autocomplete="cc-csc", inputmode="numeric"
        )

    def clean_expiry(self):
        """Refuse a card whose last month of validity has passed."""
        month, year = (int(part) for part in self.cleaned_data["expiry"].split("/"))
        today = timezone.now().date()
        if (2000 + year, month) < (today.year, today.month):
            raise forms.ValidationError("This card has expired.")
        return self.cleaned_data["expiry"]

    def clean_card_number(self):
        digits = "".join(ch for ch in self.cleaned_data["card_number"] if ch.isdigit())
        if not 12 <= len(digits) <= 19:
            raise forms.ValidationError("Enter the card's 12 to 19 digits.")
        return digits
