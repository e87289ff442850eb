"""A practice, its providers, what they offer, and when they work."""

import zoneinfo

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F

from carebook.money import decimal_string, format_money, is_known_currency


def validate_zone(name: str) -> None:
    """Refuse a name that is not an IANA time zone."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{name!r} is not an IANA time zone") from None


def validate_currency(code: str) -> None:
    """Refuse a code that is not an ISO 4217 currency."""
    if not is_known_currency(code):
        raise ValidationError(f"{code!r} is not an ISO 4217 currency code")


class Weekday(models.IntegerChoices):
    MONDAY = 0
    TUESDAY = 1
    WEDNESDAY = 2
    THURSDAY = 3
    FRIDAY = 4
    SATURDAY = 5
    SUNDAY = 6


class Practice(models.Model):
    """A clinic: its zone, currency, language and booking rules."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    timezone = models.CharField(max_length=64, validators=[validate_zone])
    currency = models.CharField(max_length=3, validators=[validate_currency])
    locale = models.CharField(max_length=16, default="en")
    email = models.EmailField(
        blank=True, help_text="Where patients' replies and invites come from."
    )
    phone = models.CharField(
        max_length=40, blank=True, help_text="Shown to patients who need to call."
    )

    # Booking rules.
    min_notice_minutes = models.PositiveIntegerField(default=120)
    horizon_days = models.PositiveIntegerField(
        default=60, validators=[MinValueValidator(1)]
    )
    slot_step_minutes = models.PositiveIntegerField(
        default=15, validators=[MinValueValidator(5)]
    )
    # Patients change a booking from their link until these many hours
    # before its start; later, they call the practice.
    cancel_cutoff_hours = models.PositiveIntegerField(
        default=0,
        help_text="Patients may cancel online until this many hours before "
        "the start; 0 means until the start.",
    )
    reschedule_cutoff_hours = models.PositiveIntegerField(
        default=0,
        help_text="Patients may move a booking online until this many hours "
        "before its start; 0 means until the start.",
    )

    # Cancellation policy; an appointment type may set its own.
    free_cancellation_hours = models.PositiveIntegerField(
        default=24,
        help_text="Cancelling at least this long before the start is free.",
    )
    late_cancellation_fee_percent = models.PositiveIntegerField(
        default=100,
        validators=[MaxValueValidator(100)],
        help_text="Share of the amount paid kept on a later cancellation; "
        "100 means no refund.",
    )

    # Privacy of the providers' calendar feeds.
    calendar_feed_shows_names = models.BooleanField(
        default=False,
        help_text="Show patients' full names in providers' calendar feeds; "
        "otherwise only their initials.",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(late_cancellation_fee_percent__lte=100),
                name="practice_fee_percent_at_most_100",
            ),
        ]

    def __str__(self):
        return self.name


class Provider(models.Model):
    """A person patients book: a doctor, a nurse, a therapist."""

    practice = models.ForeignKey(
        Practice, on_delete=models.CASCADE, related_name="providers"
    )
    slug = models.SlugField()
    name = models.CharField(max_length=200)
    specialty = models.CharField(max_length=100)
    bio = models.TextField(blank=True)
    email = models.EmailField(
        blank=True, help_text="Gets an email for each new booking and cancellation."
    )
    timezone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_zone],
        help_text="Leave blank to use the practice's time zone.",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "slug"], name="provider_slug_unique"
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def zone_name(self) -> str:
        """Return the provider's IANA zone, falling back to the practice's."""
        return self.timezone or self.practice.timezone


class AppointmentType(models.Model):
    """A kind of visit, such as a consultation or a follow-up."""

    practice = models.ForeignKey(
        Practice, on_delete=models.CASCADE, related_name="appointment_types"
    )
    slug = models.SlugField()
    name = models.CharField(max_length=100)
    duration_minutes = models.PositiveIntegerField(validators=[MinValueValidator(5)])
    buffer_before_minutes = models.PositiveIntegerField(default=0)
    buffer_after_minutes = models.PositiveIntegerField(default=0)
    free_cancellation_hours = models.PositiveIntegerField(
        null=True, blank=True, help_text="Leave blank to use the practice's."
    )
    late_cancellation_fee_percent = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(100)],
        help_text="Leave blank to use the practice's.",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "slug"], name="appointment_type_slug_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(late_cancellation_fee_percent__lte=100),
                name="appointment_type_fee_percent_at_most_100",
            ),
        ]

    def __str__(self):
        return self.name


class Service(models.Model):
    """An appointment type a provider offers, at the provider's own price."""

    provider = models.ForeignKey(
        Provider, on_delete=models.CASCADE, related_name="services"
    )
    appointment_type = models.ForeignKey(
        AppointmentType, on_delete=models.CASCADE, related_name="services"
    )
    price_amount = models.PositiveIntegerField(
        help_text="In the currency's minor unit (cents for EUR, yen for JPY)."
    )
    deposit_amount = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Paid online instead of the full price; the rest at the desk.",
    )

    class Meta:
        ordering = ["provider", "appointment_type"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "appointment_type"], name="service_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(deposit_amount__isnull=True)
                | models.Q(deposit_amount__gt=0, deposit_amount__lte=F("price_amount")),
                name="service_deposit_within_price",
            ),
        ]

    def __str__(self):
        return f"{self.provider} – {self.appointment_type}"

    @property
    def currency(self) -> str:
        return self.provider.practice.currency

    @property
    def price_decimal(self) -> str:
        return decimal_string(self.price_amount, self.currency)

    def price_display(self, locale: str | None = None) -> str:
        """Return the price formatted for `locale` (the practice's by default)."""
        return format_money(
            self.price_amount, self.currency, locale or self.provider.practice.locale
        )


class WeeklyHours(models.Model):
    """One working interval on a weekday, in the provider's wall-clock time.

    An end at or before the start means the interval runs past midnight into
    the next day.
    """

    provider = models.ForeignKey(
        Provider, on_delete=models.CASCADE, related_name="weekly_hours"
    )
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start_time = models.TimeField()
    end_time = models.TimeField()

    class Meta:
        ordering = ["provider", "weekday", "start_time"]
        verbose_name_plural = "weekly hours"

    def __str__(self):
        return f"{self.get_weekday_display()} {self.start_time}–{self.end_time}"


class DateOverride(models.Model):
    """Hours that replace the weekly hours on one date.

    All of a date's overrides together replace that date's weekly hours. An
    override without times closes the provider for the whole date.
    """

    provider = models.ForeignKey(
        Provider, on_delete=models.CASCADE, related_name="date_overrides"
    )
    date = models.DateField()
    start_time = models.TimeField(null=True, blank=True)
    end_time = models.TimeField(null=True, blank=True)

    class Meta:
        ordering = ["provider", "date", "start_time"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(start_time__isnull=True, end_time__isnull=True)
                | models.Q(start_time__isnull=False, end_time__isnull=False),
                name="date_override_times_together",
            ),
        ]

    def __str__(self):
        if self.start_time is None:
            return f"{self.date} closed"
        return f"{self.date} {self.start_time}–{self.end_time}"


class TimeOff(models.Model):
    """A stretch of time, in UTC, when the provider takes no bookings."""

    provider = models.ForeignKey(
        Provider, on_delete=models.CASCADE, related_name="time_off"
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.CharField(
        max_length=200, blank=True, help_text="Seen by staff only."
    )

    class Meta:
        ordering = ["provider", "start"]
        verbose_name_plural = "time off"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")),
                name="time_off_ends_after_start",
            ),
        ]
        indexes = [models.Index(fields=["provider", "start"])]

    def __str__(self):
        return (
            f"{self.provider} off {self.start:%Y-%m-%d %H:%M}–{self.end:%Y-%m-%d %H:%M}"
        )
