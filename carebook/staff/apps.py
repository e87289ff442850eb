from django.apps import AppConfig
from django.db.models.signals import post_migrate


class StaffConfig(AppConfig):
    name = "carebook.staff"

    def ready(self):
        from carebook.staff.roles import ensure_role_groups

        post_migrate.connect(ensure_role_groups, sender=self)
