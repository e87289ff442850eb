"""Make an API token for a staff user and print its key once."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from carebook.staff.roles import role_of
from carebook.staff.tokens import create_api_token


class Command(BaseCommand):
    help = "Make an API token for a staff user and print its key (shown only once)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="API", help="What the token is for.")

    def handle(self, *args, username, name, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user is called {username!r}.")
        if role_of(user) is None:
            raise CommandError(f"{username!r} has no staff role; give them one first.")

        _, key = create_api_token(user, name)
        self.stdout.write(key)
