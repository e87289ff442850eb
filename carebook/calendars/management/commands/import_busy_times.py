"""Import providers' busy times from their calendars now."""

from django.core.management.base import BaseCommand, CommandError

from carebook.calendars.busy import import_busy_times
from carebook.practice.models import Provider


class Command(BaseCommand):
    help = (
        "Import busy times from every provider's ICS feeds and CalDAV calendar, "
        "or from one provider's."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--provider", type=int, metavar="ID", help="import this provider only"
        )

    def handle(self, *args, provider: int | None, **options):
        chosen = None
        if provider is not None:
            providers = Provider.objects.select_related("practice")
            chosen = providers.filter(pk=provider).first()
            if chosen is None:
                raise CommandError(f"There is no provider with id {provider}.")

        results = import_busy_times(chosen)
        for result in results:
            where = f"{result.source} of provider {result.provider_id}"
            if result.succeeded:
                self.stdout.write(f"{where}: {result.busy_time_count} busy times")
            else:
                self.stdout.write(f"{where}: failed: {result.error}")

        failed = sum(not result.succeeded for result in results)
        summary = f"{len(results) - failed} of {len(results)} calendars imported"
        style = self.style.WARNING if failed else self.style.SUCCESS
        self.stdout.write(style(f"{summary}, {failed} failed."))
