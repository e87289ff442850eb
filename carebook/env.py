"""Read settings from the environment, failing loudly on malformed values.

Each helper names the variable in its error, so a bad deployment stops at
start-up with a message an operator can act on.
"""

import os
import warnings
from urllib.parse import urlsplit

import dj_email_url
from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    """Return the variable as text, or the default when it is unset."""
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    """Return the variable read as a yes/no word."""
    raw = os.environ.get(name)
    if raw is None:
        return default

    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name} must be one of true/false/1/0, not {raw!r}")


def env_int(name: str, default: int, minimum: int | None = None) -> int:
    """Return the variable as a whole number, at least `minimum` when given."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default

    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} must be a whole number, not {raw!r}"
        ) from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    """Return a comma-separated variable as a list of its non-empty items."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def parse_email_url(name: str, url: str) -> dict:
    """Return Django's EMAIL_* settings for an SMTP address.

    `smtp://user:password@host:587` speaks plain SMTP, with STARTTLS when
    `?tls=True` is added; `smtps://user:password@host:465` speaks SMTP over
    TLS from the first byte, as port 465 expects.
    """
    scheme = urlsplit(url).scheme
    if scheme not in ("smtp", "smtps"):
        raise ImproperlyConfigured(f"{name} must start with smtp:// or smtps://")

    with warnings.catch_warnings():
        # The library would read smtps as STARTTLS; it is decided below.
        warnings.simplefilter("ignore", UserWarning)
        config = dj_email_url.parse(url)
    if scheme == "smtps":
        config |= {"EMAIL_USE_SSL": True, "EMAIL_USE_TLS": False}
    config.pop("EMAIL_TIMEOUT", None)
    config.pop("EMAIL_FILE_PATH", None)
    return config
