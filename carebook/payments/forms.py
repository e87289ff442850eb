from django import forms


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

    def clean_card_number(self):
        digits = "".join(ch for ch in self.cleaned_data["card_number"] if ch.isdigit())
        if not 12 <= len(digits) <= 19:
            raise forms.ValidationError("Enter the card's 12 to 19 digits.")
        return digits
