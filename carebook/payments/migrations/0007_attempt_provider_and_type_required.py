"""Tries' provider and type are required once copied, and in their index.

Apart from the copy in 0006: PostgreSQL refuses to change a table in the
transaction that just updated its rows' foreign keys.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('payments', '0006_attempt_provider_and_type'),
    ]

    operations = [
        migrations.AlterField(
            model_name='paymentattempt',
            name='appointment_type',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='practice.appointmenttype'),
        ),
        migrations.AlterField(
            model_name='paymentattempt',
            name='provider',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='practice.provider'),
        ),
        migrations.RemoveIndex(
            model_name='paymentattempt',
            name='payment_attempt_at_covering',
        ),
        migrations.AddIndex(
            model_name='paymentattempt',
            index=models.Index(fields=['at'], include=('outcome', 'decline_reason', 'provider', 'appointment_type'), name='payment_attempt_at_covering'),
        ),
    ]
