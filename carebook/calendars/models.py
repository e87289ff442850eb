"""Providers' own calendars: a private feed, CalDAV push, busy-time import."""

import secrets

from django.db import models

from carebook.calendars.secrets import decrypt, encrypt
from carebook.practice.models import Provider


def new_feed_token() -> str:
    return secrets.token_urlsafe(32)


class CalendarFeed(models.Model):
    """A provider's private ICS feed of upcoming bookings, at a secret URL."""

    provider = models.OneToOneField(
        Provider, on_delete=models.CASCADE, related_name="calendar_feed"
    )
    token = models.CharField(max_length=64, unique=True, default=new_feed_token)
    created_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"feed of {self.provider}"


class CalendarConnection(models.Model):
    """A provider's CalDAV calendar: bookings pushed there, busy times read.

    The password (an app password, as most calendar services issue) is kept
    encrypted. The state fields tell staff whether the connection works.
    """

    provider = models.OneToOneField(
        Provider, on_delete=models.CASCADE, related_name="calendar_connection"
    )
    calendar_url = models.URLField(max_length=500)
    username = models.CharField(max_length=200)
    password_encrypted = models.TextField(editable=False)
    pushes_bookings = models.BooleanField(default=True)
    imports_busy_times = models.BooleanField(default=True)

    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"CalDAV of {self.provider}"

    @property
    def password(self) -> str:
        return decrypt(self.password_encrypted)

    @password.setter
    def password(self, plain: str) -> None:
        self.password_encrypted = encrypt(plain)


class BusyFeed(models.Model):
    """An ICS address whose events block a provider's time."""

    provider = models.ForeignKey(
        Provider, on_delete=models.CASCADE, related_name="busy_feeds"
    )
    url = models.URLField(max_length=1000)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"busy feed of {self.provider}"


class ImportedBusyTime(models.Model):
    """A stretch of time the provider is busy outside Carebook, in UTC.

    Rows of one source are replaced whole by each import.
    """

    provider = models.ForeignKey(
        Provider, on_delete=models.CASCADE, related_name="imported_busy_times"
    )
    source = models.CharField(
        max_length=40, help_text="'caldav' or 'feed:<id>': what an import replaces."
    )
    start = models.DateTimeField()
    end = models.DateTimeField()

    class Meta:
        ordering = ["provider", "start"]
        indexes = [models.Index(fields=["provider", "start"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")),
                name="imported_busy_time_ends_after_start",
            ),
        ]

    def __str__(self):
        return f"{self.provider} busy {self.start:%Y-%m-%d %H:%M}"
