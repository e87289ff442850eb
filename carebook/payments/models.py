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
        REFUNDED = "refunded"

    booking = models.ForeignKey(
        Booking, on_delete=models.PROTECT, related_name="payments"
    )
    gateway = models.CharField(max_length=16)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING
    )
    amount = models.PositiveIntegerField(help_text="In the currency's minor unit.")
    currency = models.CharField(max_length=3)
    refunded_amount = models.PositiveIntegerField(default=0)
    checkout_token = models.CharField(max_length=64, unique=True)
    gateway_reference = models.CharField(max_length=255, blank=True)
    return_url = models.CharField(
        max_length=500, help_text="Where the patient goes after paying."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self):
        return f"{self.gateway} {self.amount} {self.currency} ({self.status})"


class PaymentAttempt(models.Model):
    """One try at paying: a card accepted or declined, with the reason."""

    class Outcome(models.TextChoices):
        SUCCEEDED = "succeeded"
        DECLINED = "declined"

    payment = models.ForeignKey(
        Payment, on_delete=models.CASCADE, related_name="attempts"
    )
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    decline_reason = models.CharField(max_length=64, blank=True)
    amount = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self):
        return f"{self.outcome} {self.decline_reason}".strip()
