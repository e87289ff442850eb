"""Past days' figures, rolled up so a long range need not re-read every row.

A rolled-up day holds, for each provider and appointment type, the counts
and sums of one of the practice's local days; carebook/analytics/rollups.py
says when a day is rolled up and what may open it again.
"""

from django.db import models

from carebook.practice.models import AppointmentType, Provider


class RolledUpDay(models.Model):
    """One local day whose figures are all in the roll-up tables."""

    zone = models.CharField(max_length=64)
    day = models.DateField()
    # The day as instants: local midnight to local midnight.
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    rolled_up_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["zone", "day"], name="rolled_up_day_once")
        ]

    def __str__(self):
        return f"{self.day} ({self.zone})"


class DayCounts(models.Model):
    """A day's bookings made, checkouts, tries at paying and appointments.

    Counted for one cell: a provider and an appointment type. Appointments
    are the bookings made that take place on the day, by their status.
    """

    rolled_day = models.ForeignKey(
        RolledUpDay, on_delete=models.CASCADE, related_name="counts"
    )
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="+")
    appointment_type = models.ForeignKey(
        AppointmentType, on_delete=models.PROTECT, related_name="+"
    )
    made = models.PositiveIntegerField(default=0)
    checkouts_started = models.PositiveIntegerField(default=0)
    checkouts_completed = models.PositiveIntegerField(default=0)
    tries = models.PositiveIntegerField(default=0)
    tries_succeeded = models.PositiveIntegerField(default=0)
    confirmed = models.PositiveIntegerField(default=0)
    completed = models.PositiveIntegerField(default=0)
    no_show = models.PositiveIntegerField(default=0)
    cancelled = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["rolled_day", "provider", "appointment_type"],
                name="day_counts_once",
            )
        ]

    def __str__(self):
        return f"{self.rolled_day}: {self.made} made"


class DayTakings(models.Model):
    """A day's money taken and refunded in one currency, for one cell."""

    rolled_day = models.ForeignKey(
        RolledUpDay, on_delete=models.CASCADE, related_name="takings"
    )
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="+")
    appointment_type = models.ForeignKey(
        AppointmentType, on_delete=models.PROTECT, related_name="+"
    )
    currency = models.CharField(max_length=3)
    # Minor units of the currency.
    taken = models.BigIntegerField(default=0)
    refunded = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["rolled_day", "provider", "appointment_type", "currency"],
                name="day_takings_once",
            )
        ]

    def __str__(self):
        return f"{self.rolled_day}: {self.taken} taken in {self.currency}"


class DayDeclines(models.Model):
    """A day's declined tries at paying for one reason, for one cell."""

    rolled_day = models.ForeignKey(
        RolledUpDay, on_delete=models.CASCADE, related_name="declines"
    )
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="+")
    appointment_type = models.ForeignKey(
        AppointmentType, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(max_length=64, blank=True)
    tries = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["rolled_day", "provider", "appointment_type", "reason"],
                name="day_declines_once",
            )
        ]

    def __str__(self):
        return f"{self.rolled_day}: {self.tries} declined ({self.reason})"
