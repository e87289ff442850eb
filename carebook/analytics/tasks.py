"""Background jobs of the dashboard."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from carebook.analytics.rollups import roll_up_days


@db_periodic_task(crontab(minute="5"))
def roll_up_days_every_hour() -> int:
    """Roll up the days that have settled since the last run; return how many."""
    return roll_up_days()
