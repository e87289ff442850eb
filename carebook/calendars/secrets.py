"""Encrypt the secrets Carebook must be able to read back, such as passwords.

Fernet (from the cryptography package) with a key derived from SECRET_KEY,
or from CAREBOOK_ENCRYPTION_KEY when set, so a copy of the database alone
reveals no password.
"""

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

KEY_PURPOSE = b"carebook.calendars.passwords"


def _fernet() -> Fernet:
    secret = (settings.CAREBOOK_ENCRYPTION_KEY or settings.SECRET_KEY).encode()
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=KEY_PURPOSE
    ).derive(secret)
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(plain: str) -> str:
    """Return `plain` encrypted, as text fit for a database column."""
    return _fernet().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    """Return the text `encrypt` was given; raise ValueError if it cannot."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ValueError(
            "cannot decrypt: the key changed or the data is damaged"
        ) from None
