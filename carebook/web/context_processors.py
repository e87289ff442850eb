"""What every patient page needs to know about the reader."""

from babel import Locale, UnknownLocaleError
from django.utils.translation.trans_real import parse_accept_lang_header


def patient_locale(request) -> dict:
    """Return the locale the browser prefers, for prices and dates.

    Empty when the browser names none Babel knows; pages then use the
    practice's locale.
    """
    header = request.META.get("HTTP_ACCEPT_LANGUAGE", "")
    for tag, _ in parse_accept_lang_header(header):
        if tag == "*":
            continue
        try:
            return {"patient_locale": str(Locale.parse(tag, sep="-"))}
        except (ValueError, UnknownLocaleError):
            continue
    return {"patient_locale": ""}
