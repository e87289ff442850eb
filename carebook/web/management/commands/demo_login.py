"""Create the local staff login for a demo, and print it."""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

USERNAME = "admin"


class Command(BaseCommand):
    help = (
        "Create a superuser 'admin' with a random password kept in "
        "var/demo-login (readable by this user only), and print the login."
    )

    def handle(self, *args, **options):
        path = settings.VAR_DIR / "demo-login"
        user_model = get_user_model()
        user = user_model.objects.filter(username=USERNAME).first()

        if user is None or not path.exists():
            password = secrets.token_urlsafe(12)
            if user is None:
                user = user_model.objects.create_superuser(USERNAME, password=password)
            else:
                user.set_password(password)
                user.save(update_fields=["password"])
            path.write_text(password)
            path.chmod(0o600)

        self.stdout.write(f"user {USERNAME}, password {path.read_text().strip()}")
