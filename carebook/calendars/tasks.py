"""Jobs that import providers' busy times from their own calendars."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from carebook.calendars.busy import import_busy_times
from carebook.practice.models import Provider


@db_periodic_task(crontab(minute="*/15"))
def import_busy_times_every_quarter_hour() -> int:
    """Import every feed and CalDAV calendar; return how many failed."""
    results = import_busy_times()
    return sum(not result.succeeded for result in results)


@db_task()
def import_provider_busy_times(provider_id: int) -> int:
    """Import one provider's calendars now; return how many failed."""
    providers = Provider.objects.select_related("practice")
    provider = providers.filter(pk=provider_id).first()
    if provider is None:
        return 0  # deleted since the job was queued
    results = import_busy_times(provider)
    return sum(not result.succeeded for result in results)
