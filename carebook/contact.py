"""Patients' contact details, checked the same way on every way in."""

import re

PHONE_CHARACTERS = re.compile(r"[0-9+\-().\/ ]+")
PHONE_MESSAGE = "Enter a phone number: digits, spaces and + - ( ) . / only."


def clean_phone(phone: str) -> str:
    """Return a phone number as people write one, or raise ValueError.

    An empty number is allowed; otherwise at least six digits, and only
    digits, spaces and + - ( ) . /
    """
    phone = phone.strip()
    digits = sum(character.isdigit() for character in phone)
    if phone and (digits < 6 or not PHONE_CHARACTERS.fullmatch(phone)):
        raise ValueError(PHONE_MESSAGE)
    return phone
