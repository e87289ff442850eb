"""Roll up the dashboard's settled days now, instead of at the next hour."""

from django.core.management.base import BaseCommand

from carebook.analytics.rollups import drop_rollups, roll_up_days


class Command(BaseCommand):
    help = (
        "Roll up every settled day of the dashboard's figures that is not "
        "rolled up yet (the job worker does this every hour)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--again",
            action="store_true",
            help="Drop every roll-up first and count all days again from the rows.",
        )

    def handle(self, *args, again, **options):
        if again:
            self.stdout.write(f"Dropped the roll-ups of {_days(drop_rollups())}.")
        self.stdout.write(f"Rolled up {_days(roll_up_days())}.")


def _days(count: int) -> str:
    return f"{count} day" if count == 1 else f"{count} days"
