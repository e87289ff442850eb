"""Patients' contact details, checked the same way on every way in."""

import re

import idna

PHONE_CHARACTERS = re.compile(r"[0-9+\-().\/ ]+")
PHONE_MESSAGE = "Enter a phone number: digits, spaces and + - ( ) . / only."
UNREACHABLE_MESSAGE = "Give an email address or a phone number."


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


def check_reachable(email: str, phone: str) -> None:
    """Refuse contact details by which the practice could reach nobody."""
    if not email and not phone:
        raise ValueError(UNREACHABLE_MESSAGE)


def email_key(address: str) -> str:
    """Return the form of an email address that tells two addresses apart.

    Case is folded throughout and the domain written as IDNA ASCII, so
    `Zoë@Éxample.ie` and `zoë@xn--xample-9ua.ie` give the same key on every
    database.
    """
    local, _, domain = address.strip().rpartition("@")
    try:
        domain = idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:
        domain = domain.casefold()
    return f"{local.casefold()}@{domain.lower()}"
