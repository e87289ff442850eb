"""Bookings: who sees which provider when, for what price."""

import base64
import hashlib

from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac

from carebook.money import decimal_string, format_money
from carebook.practice.models import AppointmentType, Provider


def hash_token(token: str) -> str:
    """Return the stored form of a booking's secret token."""
    return hashlib.sha256(token.encode()).hexdigest()


def make_token(token_salt: str, purpose: str = "carebook.booking-token") -> str:
    """Return the secret token a booking's random salt stands for.

    The token is a keyed hash of the salt, so Carebook can put it in every
    email about the booking while the database holds only the salt and the
    token's hash: neither opens the booking without the secret key.
    `purpose` keeps the tokens of other things (a waitlist place) apart.
    """
    digest = salted_hmac(purpose, token_salt, algorithm="sha256")
    return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")


class BookingQuerySet(models.QuerySet):
    def holding_time(self, now=None):
        """Keep the bookings that still hold their time at `now`.

        A hold whose expiry has passed no longer holds time, even before the
        expiry job has marked it expired.
        """
        now = now or timezone.now()
        return self.filter(status__in=Booking.HOLDING_STATUSES).exclude(
            status__in=Booking.EXPIRING_STATUSES, hold_expires_at__lte=now
        )

    def overlapping(self, start, end):
        """Keep the bookings whose blocked time overlaps [start, end)."""
        return self.filter(
            blocked_start__lt=end,
            blocked_end__gt=start,
            # Lets the provider/blocked_start index bound the scan from below.
            blocked_start__gt=start - Booking.MAX_BLOCKED_SPAN,
        )


# What the dashboard narrows its figures by.
DASHBOARD_NARROWING = ["provider", "appointment_type"]


class Booking(models.Model):
    """One appointment, from the first hold to its end."""

    class Status(models.TextChoices):
        HELD = "held"
        PENDING_PAYMENT = "pending_payment"
        CONFIRMED = "confirmed"
        COMPLETED = "completed"
        NO_SHOW = "no_show"
        CANCELLED = "cancelled"
        EXPIRED = "expired"

    class Source(models.TextChoices):
        WEB = "web"
        API = "api"
        STAFF = "staff"
        WAITLIST = "waitlist"

    class PaymentPlan(models.TextChoices):
        # Paid online before the booking is confirmed.
        ONLINE = "online", "online before confirming"
        # Confirmed at once; paid online from the patient's link, or at the
        # desk.
        LATER = "later", "online later, or at the desk"
        # Confirmed at once; paid at the desk.
        DESK = "desk", "at the desk"

    # Statuses whose time no other booking may overlap.
    HOLDING_STATUSES = (
        Status.HELD,
        Status.PENDING_PAYMENT,
        Status.CONFIRMED,
        Status.COMPLETED,
        Status.NO_SHOW,
    )
    # Statuses that stop holding time when hold_expires_at passes.
    EXPIRING_STATUSES = (Status.HELD, Status.PENDING_PAYMENT)
    # No appointment with its buffers is longer; bounds overlap queries.
    MAX_BLOCKED_SPAN = timezone.timedelta(hours=24)

    reference = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    token_salt = models.CharField(max_length=32, editable=False)
    # Grows with every change the patient's calendar must follow.
    sequence = models.PositiveIntegerField(default=0)
    provider = models.ForeignKey(
        Provider, on_delete=models.PROTECT, related_name="bookings"
    )
    appointment_type = models.ForeignKey(
        AppointmentType, on_delete=models.PROTECT, related_name="bookings"
    )
    status = models.CharField(max_length=16, choices=Status.choices)
    source = models.CharField(max_length=8, choices=Source.choices)

    # Instants in UTC; intervals are half-open [start, end).
    start = models.DateTimeField()
    end = models.DateTimeField()
    blocked_start = models.DateTimeField(help_text="Start minus the buffer before.")
    blocked_end = models.DateTimeField(help_text="End plus the buffer after.")
    hold_expires_at = models.DateTimeField(null=True, blank=True)
    # When the patient was seen at the desk on the day.
    arrived_at = models.DateTimeField(null=True, blank=True)

    # The price copied when the booking was made, and the part of it that
    # is paid online when that is a deposit; the rest is paid at the desk.
    price_amount = models.PositiveIntegerField()
    deposit_amount = models.PositiveIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3)
    payment_plan = models.CharField(
        max_length=8, choices=PaymentPlan.choices, default=PaymentPlan.ONLINE
    )
    # The cancellation policy copied when the booking was made.
    free_cancellation_hours = models.PositiveIntegerField(default=24)
    late_cancellation_fee_percent = models.PositiveIntegerField(default=100)

    patient_name = models.CharField(max_length=200, blank=True)
    patient_email = models.EmailField(blank=True)
    patient_phone = models.CharField(max_length=40, blank=True)
    patient_timezone = models.CharField(max_length=64)
    patient_language = models.CharField(max_length=8, default="en")

    # The booking funnel, for the dashboard.
    picker_opened_at = models.DateTimeField(null=True, blank=True)
    held_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    updated_at = models.DateTimeField(auto_now=True)

    objects = BookingQuerySet.as_manager()

    class Meta:
        ordering = ["-start"]
        indexes = [
            models.Index(fields=["provider", "blocked_start"]),
            models.Index(fields=["status", "hold_expires_at"]),
            # The dashboard counts appointments by their day, bookings by
            # the day they were made and checkouts by the day they started;
            # on PostgreSQL these indexes cover those counts.
            models.Index(
                fields=["start"],
                include=["status", "confirmed_at", *DASHBOARD_NARROWING],
                name="booking_start_covering",
            ),
            models.Index(
                fields=["confirmed_at"],
                include=["picker_opened_at", *DASHBOARD_NARROWING],
                name="booking_confirmed_covering",
            ),
            models.Index(
                fields=["held_at"],
                include=["confirmed_at", "source", *DASHBOARD_NARROWING],
                name="booking_held_covering",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")),
                name="booking_ends_after_start",
            ),
            models.CheckConstraint(
                condition=models.Q(blocked_start__lte=models.F("start"))
                & models.Q(blocked_end__gte=models.F("end")),
                name="booking_blocked_covers_appointment",
            ),
        ]

    def __str__(self):
        return self.reference

    @property
    def online_amount(self) -> int:
        """Return what the patient pays online: the deposit or the price."""
        return self.price_amount if self.deposit_amount is None else self.deposit_amount

    @property
    def needs_payment(self) -> bool:
        """Return whether the booking waits for payment before confirming."""
        return self.payment_plan == self.PaymentPlan.ONLINE and self.online_amount > 0

    @property
    def price_decimal(self) -> str:
        return decimal_string(self.price_amount, self.currency)

    def price_display(self, locale: str) -> str:
        return format_money(self.price_amount, self.currency, locale)

    @property
    def token(self) -> str:
        """Return the secret token of the patient's private link."""
        return make_token(self.token_salt)

    def is_hold_expired(self, now=None) -> bool:
        """Return whether this hold has lapsed and no longer holds its time."""
        now = now or timezone.now()
        return (
            self.status in self.EXPIRING_STATUSES
            and self.hold_expires_at is not None
            and self.hold_expires_at <= now
        )
