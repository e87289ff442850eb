import django.db.models.deletion
from django.db import migrations, models


def copy_from_payments(apps, schema_editor):
    """Copy each try's provider and type from its payment."""
    PaymentAttempt = apps.get_model("payments", "PaymentAttempt")
    Payment = apps.get_model("payments", "Payment")
    payments = Payment.objects.filter(pk=models.OuterRef("payment_id"))
    PaymentAttempt.objects.update(
        provider_id=models.Subquery(payments.values("provider_id")[:1]),
        appointment_type_id=models.Subquery(payments.values("appointment_type_id")[:1]),
    )


class Migration(migrations.Migration):

    dependencies = [
        ('payments', '0005_dashboard_fields_required'),
        ('practice', '0007_practice_phone'),
    ]

    operations = [
        migrations.AddField(
            model_name='paymentattempt',
            name='appointment_type',
            field=models.ForeignKey(db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='practice.appointmenttype'),
        ),
        migrations.AddField(
            model_name='paymentattempt',
            name='provider',
            field=models.ForeignKey(db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='practice.provider'),
        ),
        migrations.RunPython(copy_from_payments, migrations.RunPython.noop),
    ]
