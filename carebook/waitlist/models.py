"""The waitlist: patients waiting for a time to come free, and the offers."""

from django.db import models

from carebook.bookings.models import Booking, make_token
from carebook.practice.models import AppointmentType, Provider

TOKEN_PURPOSE = "carebook.waitlist-token"


class WaitlistEntry(models.Model):
    """A patient's place in line for one provider, type and range of days.

    The days are the patient's, in their own zone. The line is ordered by
    when each patient joined.
    """

    class Status(models.TextChoices):
        WAITING = "waiting"
        BOOKED = "booked"
        LEFT = "left"
        ENDED = "ended", "ended (its last day passed)"

    provider = models.ForeignKey(
        Provider, on_delete=models.CASCADE, related_name="waitlist_entries"
    )
    appointment_type = models.ForeignKey(
        AppointmentType, on_delete=models.CASCADE, related_name="waitlist_entries"
    )
    first_day = models.DateField()
    last_day = models.DateField()
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.WAITING
    )

    patient_name = models.CharField(max_length=200)
    patient_email = models.EmailField()
    # The address with its case folded and its domain in IDNA ASCII, so one
    # address waits once (see carebook.contact.email_key).
    email_key = models.CharField(max_length=320, editable=False)
    patient_phone = models.CharField(max_length=40, blank=True)
    patient_timezone = models.CharField(max_length=64)
    patient_language = models.CharField(max_length=8, default="en")

    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    token_salt = models.CharField(max_length=32, editable=False)
    joined_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["joined_at", "id"]
        verbose_name_plural = "waitlist entries"
        indexes = [models.Index(fields=["provider", "status", "joined_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(last_day__gte=models.F("first_day")),
                name="waitlist_days_in_order",
            ),
            # One place at a time for each address, provider and type.
            models.UniqueConstraint(
                fields=["email_key", "provider", "appointment_type"],
                condition=models.Q(status="waiting"),
                name="waitlist_one_place_per_address",
            ),
        ]

    def __str__(self):
        return f"{self.provider} {self.first_day}–{self.last_day} ({self.status})"

    @property
    def token(self) -> str:
        """Return the secret token of the patient's link to this place."""
        return make_token(self.token_salt, TOKEN_PURPOSE)


class WaitlistOffer(models.Model):
    """A freed time held for one patient on the waitlist, for a while.

    The held booking is the offer: claiming it adds the patient's details
    to that booking; letting it lapse frees the time for the next in line.
    """

    class Status(models.TextChoices):
        OPEN = "open"
        CLAIMED = "claimed"
        DECLINED = "declined"
        LAPSED = "lapsed"

    entry = models.ForeignKey(
        WaitlistEntry, on_delete=models.CASCADE, related_name="offers"
    )
    booking = models.OneToOneField(
        Booking, on_delete=models.PROTECT, related_name="waitlist_offer"
    )
    start = models.DateTimeField()
    status = models.CharField(max_length=8, choices=Status.choices, default="open")
    offered_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-offered_at"]
        constraints = [
            # One time at a time for each place in line.
            models.UniqueConstraint(
                fields=["entry"],
                condition=models.Q(status="open"),
                name="waitlist_one_open_offer",
            ),
        ]

    def __str__(self):
        return f"Offer of {self.start:%Y-%m-%d %H:%M} UTC ({self.status})"
