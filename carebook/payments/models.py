"""Payment attempts for bookings, whatever the gateway."""

from django.db import models

from carebook.bookings.models import Booking
from carebook.practice.models import AppointmentType, Provider


class CountedByBooking(models.Model):
    """Money for a booking, counted by the booking's provider and type.

    Both are copied from the booking, whose provider and type never change,
    so the dashboard sums money without reading the bookings.
    """

    provider = models.ForeignKey(
        Provider, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    appointment_type = models.ForeignKey(
        AppointmentType, on_delete=models.PROTECT, related_name="+", db_index=False
    )

    class Meta:
        abstract = True


class Payment(CountedByBooking):
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
    disputed_amount = models.PositiveIntegerField(default=0)
    checkout_token = models.CharField(max_length=64, unique=True)
    checkout_reference = models.CharField(
        max_length=255, blank=True, db_index=True, help_text="The gateway's checkout."
    )
    gateway_reference = models.CharField(
        max_length=255, blank=True, help_text="The gateway's payment."
    )
    return_url = models.CharField(
        max_length=500, help_text="Where the patient goes after paying."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "created_at"]),
            # Covers the dashboard's revenue queries (PostgreSQL).
            models.Index(
                fields=["completed_at"],
                include=[
                    "status",
                    "amount",
                    "currency",
                    "provider",
                    "appointment_type",
                ],
                name="payment_completed_covering",
            ),
        ]

    def __str__(self):
        return f"{self.gateway} {self.amount} {self.currency} ({self.status})"


class PaymentAttempt(CountedByBooking):
    """One try at paying: a card accepted or declined, with the reason."""

    class Outcome(models.TextChoices):
        SUCCEEDED = "succeeded"
        DECLINED = "declined"

    payment = models.ForeignKey(
        Payment, on_delete=models.CASCADE, related_name="attempts"
    )
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    decline_reason = models.CharField(max_length=64, blank=True)
    gateway_reference = models.CharField(
        max_length=255,
        blank=True,
        help_text="The gateway's try (a charge), so one try is recorded once.",
    )
    amount = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at"]
        indexes = [
            # Covers the dashboard's payment success queries (PostgreSQL).
            models.Index(
                fields=["at"],
                include=["outcome", "decline_reason", "provider", "appointment_type"],
                name="payment_attempt_at_covering",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["payment", "gateway_reference"],
                condition=~models.Q(gateway_reference=""),
                name="payment_attempt_once",
            ),
        ]

    def __str__(self):
        return f"{self.outcome} {self.decline_reason}".strip()


class Refund(CountedByBooking):
    """Money given back for a payment, in full or in part.

    The row is written with the change that causes it and sent to the
    gateway by a job, with the row's idempotency key, so a retried job gives
    the money back once.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    class Reason(models.TextChoices):
        CANCELLATION = "cancellation"
        TIME_TAKEN = "time_taken", "paid after the time was taken"
        GATEWAY = "gateway", "made in the gateway's dashboard"

    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, related_name="refunds"
    )
    amount = models.PositiveIntegerField(help_text="In the currency's minor unit.")
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=16, choices=Reason.choices)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING
    )
    last_error = models.TextField(blank=True)
    gateway_reference = models.CharField(
        max_length=255, blank=True, unique=True, null=True
    )
    idempotency_key = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # When the money went back: the day it leaves the revenue.
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # Covers the dashboard's refund queries (PostgreSQL).
            models.Index(
                fields=["completed_at"],
                include=[
                    "status",
                    "amount",
                    "currency",
                    "provider",
                    "appointment_type",
                ],
                name="refund_completed_covering",
            ),
        ]

    def __str__(self):
        return f"refund {self.amount} {self.currency} ({self.reason})"


class WebhookEvent(models.Model):
    """A gateway event, recorded once so a repeated delivery changes nothing."""

    gateway = models.CharField(max_length=16)
    event_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=100)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["gateway", "event_id"], name="webhook_event_once"
            ),
        ]

    def __str__(self):
        return f"{self.gateway} {self.event_type} {self.event_id}"
