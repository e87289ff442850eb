from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "carebook.payments"
