"""Create or update a practice from a YAML practice file."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from carebook.practice.loading import load_practice
from carebook.practice.models import Practice
from carebook.practice.practice_file import PracticeFileError


class Command(BaseCommand):
    help = (
        "Create or update a practice, its providers, prices and hours from a "
        "YAML practice file (see docs/practice-file.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="the practice file to load")
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="load nothing when any practice already exists",
        )

    def handle(self, *args, file: Path, if_empty: bool, **options):
        if if_empty and Practice.objects.exists():
            self.stdout.write(f"A practice already exists; {file} was not loaded.")
            return

        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"{file}: cannot be read: {error}") from None

        try:
            result = load_practice(text, str(file))
        except PracticeFileError as error:
            for message in error.messages:
                self.stderr.write(message)
            count = len(error.messages)
            raise CommandError(
                f"{file}: {count} problem{'s' if count != 1 else ''} found; "
                "nothing was loaded."
            ) from None

        self.stdout.write(self.style.SUCCESS(result.summary()))
