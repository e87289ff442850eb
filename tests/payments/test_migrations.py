"""The migration that gives payments their provider and type for the dashboard."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [
    ("payments", "0003_paymentattempt_gateway_reference_and_more"),
    ("bookings", "0005_booking_free_cancellation_hours_and_more"),
]
AFTER = [("payments", "0005_dashboard_fields_required")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_payments_made_before_get_their_bookings_provider_and_type(
    practice, provider, consultation
):
    old = migrate(BEFORE)
    try:
        booking = old.get_model("bookings", "Booking").objects.create(
            reference="OLD00001",
            token_hash="old",
            provider_id=provider.pk,
            appointment_type_id=consultation.pk,
            status="cancelled",
            source="web",
            start="2026-11-02T10:00:00Z",
            end="2026-11-02T10:30:00Z",
            blocked_start="2026-11-02T10:00:00Z",
            blocked_end="2026-11-02T10:40:00Z",
            price_amount=8000,
            currency="EUR",
            patient_timezone="UTC",
        )
        payment = old.get_model("payments", "Payment").objects.create(
            booking_id=booking.pk,
            gateway="demo",
            status="refunded",
            amount=8000,
            currency="EUR",
            checkout_token="old-token",
            return_url="/",
        )
        refund = old.get_model("payments", "Refund").objects.create(
            payment_id=payment.pk,
            amount=8000,
            currency="EUR",
            reason="cancellation",
            status="succeeded",
            idempotency_key="old-refund",
        )

        new = migrate(AFTER)

        migrated = new.get_model("payments", "Payment").objects.get(pk=payment.pk)
        dated = new.get_model("payments", "Refund").objects.get(pk=refund.pk)
        assert (migrated.provider_id, migrated.appointment_type_id) == (
            provider.pk,
            consultation.pk,
        )
        assert (dated.provider_id, dated.appointment_type_id) == (
            provider.pk,
            consultation.pk,
        )
        assert dated.completed_at == dated.created_at
    finally:
        call_command("migrate", verbosity=0)
