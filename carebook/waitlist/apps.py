from django.apps import AppConfig


class WaitlistConfig(AppConfig):
    name = "carebook.waitlist"

    def ready(self):
        from carebook.bookings.signals import time_freed
        from carebook.waitlist.tasks import queue_offers

        time_freed.connect(queue_offers, dispatch_uid="carebook.waitlist.offers")
