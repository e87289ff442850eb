"""Payment attempts for bookings, whatever the gateway."""

from django.db import models

from carebook.bookings.models import Booking


class Payment(models.Model):
    """One attempt to take money for a booking through a gateway."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    booking = models.ForeignKey(
        Booking, on_delete=models.PROTECT, related_name="payments"
    )
    gateway = models.CharField(max_length=16)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING
    )
    amount = models.PositiveIntegerField(help_text="In the currency's minor unit.")
    currency = models.CharField(max_length=3)
    checkout_token = models.CharField(max_length=64, unique=True)
    gateway_reference = models.CharField(max_length=255, blank=True)
    decline_reason = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self):
        return f"{self.gateway} {self.amount} {self.currency} ({self.status})"
