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


class DayCell(models.Model):
    """One provider's and appointment type's share of a rolled-up day."""

    rolled_day = models.ForeignKey(
        RolledUpDay, on_delete=models.CASCADE, related_name="%(class)s_cells"
    )
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="+")
    appointment_type = models.ForeignKey(
        AppointmentType, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        abstract = True


class DayCounts(DayCell):
    """A day's bookings made, checkouts, tries at paying and appointments.

    Counted for one cell: a provider and an appointment type. Appointments
    are the bookings made that take place on the day, by their status.
    """

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


class DayTakings(DayCell):
    """A day's money taken and refunded in one currency, for one cell."""

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


class DayDeclines(DayCell):
    """A day's declined tries at paying for one reason, for one cell."""

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
