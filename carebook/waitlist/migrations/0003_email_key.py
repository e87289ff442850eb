from django.db import migrations, models

from carebook.contact import email_key


def fill_email_keys(apps, schema_editor):
    WaitlistEntry = apps.get_model("waitlist", "WaitlistEntry")
    for entry in WaitlistEntry.objects.all():
        entry.email_key = email_key(entry.patient_email)
        entry.save(update_fields=["email_key"])


class Migration(migrations.Migration):
    dependencies = [
        ("waitlist", "0002_one_place_per_patient"),
    ]

    operations = [
        migrations.AddField(
            model_name="waitlistentry",
            name="email_key",
            field=models.CharField(default="", editable=False, max_length=320),
            preserve_default=False,
        ),
        migrations.RunPython(fill_email_keys, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name="waitlistentry",
            name="waitlist_one_place_per_patient",
        ),
        migrations.AddConstraint(
            model_name="waitlistentry",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "waiting")),
                fields=("email_key", "provider", "appointment_type"),
                name="waitlist_one_place_per_address",
            ),
        ),
    ]
