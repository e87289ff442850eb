"""Forbid overlapping bookings of one provider in PostgreSQL itself.

SQLite has no exclusion constraints; there the booking service's IMMEDIATE
transaction serialises every booking instead.
"""

from django.db import migrations

HOLDING = "('held', 'pending_payment', 'confirmed', 'completed', 'no_show')"

CREATE = f"""
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE bookings_booking ADD CONSTRAINT booking_no_overlap
    EXCLUDE USING gist (
        provider_id WITH =,
        tstzrange(blocked_start, blocked_end, '[)') WITH &&
    ) WHERE (status IN {HOLDING});
"""

DROP = "ALTER TABLE bookings_booking DROP CONSTRAINT booking_no_overlap;"


def create_constraint(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop_constraint(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("bookings", "0001_initial")]

    operations = [migrations.RunPython(create_constraint, drop_constraint)]
