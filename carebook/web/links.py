"""Absolute addresses for links that leave the current request."""

from django.conf import settings
from django.urls import reverse


def absolute_url(path: str) -> str:
    """Return `path` on this deployment's public address."""
    return settings.CAREBOOK_BASE_URL.rstrip("/") + path


def booking_url(token: str) -> str:
    """Return the patient's private page for the booking this token opens."""
    return absolute_url(reverse("web:booking", args=[token]))
