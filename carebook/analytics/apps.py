from django.apps import AppConfig
from django.db.models.signals import post_save, pre_save


class AnalyticsConfig(AppConfig):
    name = "carebook.analytics"

    def ready(self):
        from carebook.analytics.rollups import note_counted_state, reopen_changed_days
        from carebook.bookings.models import Booking

        # A change to a booking that a rolled-up day counted opens that day
        # again, in the change's own transaction.
        pre_save.connect(
            note_counted_state, sender=Booking, dispatch_uid="analytics.before"
        )
        post_save.connect(
            reopen_changed_days, sender=Booking, dispatch_uid="analytics.after"
        )
