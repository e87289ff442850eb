"""The outbox: every email Carebook owes someone, until it is delivered."""

from django.db import models
from django.utils import timezone


class OutboxMessage(models.Model):
    """One email or calendar change, written with the change that causes it.

    The row is the truth; the job queue only carries its id. A worker claims
    the row (status `sending` with a lease) before it talks to the mail
    server, so two workers never send it at once, and a worker that dies
    mid-send leaves a lease that runs out and lets another worker retry.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        SENT = "sent"
        FAILED = "failed"
        CANCELLED = "cancelled"

    class Audience(models.TextChoices):
        PATIENT = "patient"
        PROVIDER = "provider"

    class Channel(models.TextChoices):
        EMAIL = "email"
        CALDAV = "caldav", "CalDAV calendar"

    channel = models.CharField(
        max_length=16, choices=Channel.choices, default=Channel.EMAIL
    )
    template = models.CharField(max_length=40)
    audience = models.CharField(max_length=16, choices=Audience.choices)
    booking = models.ForeignKey(
        "bookings.Booking",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="outbox_messages",
    )
    # A reminder is only valid for the appointment time it was made for.
    appointment_start = models.DateTimeField(null=True, blank=True)
    dedupe_key = models.CharField(
        max_length=120,
        unique=True,
        null=True,
        blank=True,
        help_text="Messages that must never be sent twice share nothing else.",
    )

    recipient = models.EmailField(blank=True)
    subject = models.CharField(max_length=250, blank=True)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    calendar = models.TextField(blank=True, help_text="An .ics invite, if any.")
    calendar_method = models.CharField(max_length=16, blank=True)

    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    claim = models.CharField(max_length=32, blank=True, editable=False)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "outbox message"
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["status", "claimed_until"]),
        ]

    def __str__(self):
        return f"{self.template} to {self.audience} ({self.status})"
