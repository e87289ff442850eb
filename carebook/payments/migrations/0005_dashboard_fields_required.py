"""Payments' and refunds' provider and type are required once copied.

Apart from the copy in 0004: PostgreSQL refuses to change a table in the
transaction that just updated its rows' foreign keys.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('payments', '0004_dashboard_fields'),
    ]

    operations = [
        migrations.AlterField(
            model_name='payment',
            name='appointment_type',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='practice.appointmenttype'),
        ),
        migrations.AlterField(
            model_name='payment',
            name='provider',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='practice.provider'),
        ),
        migrations.AlterField(
            model_name='refund',
            name='appointment_type',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='practice.appointmenttype'),
        ),
        migrations.AlterField(
            model_name='refund',
            name='provider',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='practice.provider'),
        ),
        migrations.AddIndex(
            model_name='payment',
            index=models.Index(fields=['completed_at'], include=('status', 'amount', 'currency', 'provider', 'appointment_type'), name='payment_completed_covering'),
        ),
        migrations.AddIndex(
            model_name='paymentattempt',
            index=models.Index(fields=['at'], include=('outcome', 'decline_reason', 'payment'), name='payment_attempt_at_covering'),
        ),
        migrations.AddIndex(
            model_name='refund',
            index=models.Index(fields=['completed_at'], include=('status', 'amount', 'currency', 'provider', 'appointment_type'), name='refund_completed_covering'),
        ),
    ]
