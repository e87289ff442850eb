"""The staff admin for calendars: connection state, passwords, feeds.

No CalDAV server is needed: these tests read and post admin pages only.
Time is frozen at Monday 7 December 2026, 08:00 UTC.
"""

from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from carebook.audit.models import AuditEntry
from carebook.audit.services import SYSTEM
from carebook.calendars.models import (
    BusyFeed,
    CalendarConnection,
    CalendarFeed,
    ImportedBusyTime,
)
from carebook.calendars.services import connect_calendar
from carebook.web.links import absolute_url

CALENDAR_URL = "https://cal.example.org/dav/ada/appointments/"
SECRET = "tr0ub4dor&3-app-password"
NEW_SECRET = "a-brand-new-app-password"
CONNECTIONS = "/admin/calendars/calendarconnection/"


@pytest.fixture
def connection(provider, now):
    """Dr Lovelace's calendar, which worked at 07:00 and failed at 07:30."""
    connection = connect_calendar(provider, CALENDAR_URL, "ada", SECRET, SYSTEM)
    CalendarConnection.objects.filter(pk=connection.pk).update(
        last_success_at=datetime(2026, 12, 7, 7, 0, tzinfo=UTC),
        last_error_at=datetime(2026, 12, 7, 7, 30, tzinfo=UTC),
        last_error="The calendar server refused the username or password (HTTP 401).",
    )
    return CalendarConnection.objects.get(pk=connection.pk)


def change_form(connection, **fields) -> dict:
    """Return what the connection's change form posts, with `fields` changed."""
    return {
        "calendar_url": connection.calendar_url,
        "username": connection.username,
        "new_password": "",
        "pushes_bookings": "on",
        "imports_busy_times": "on",
        **fields,
    }


def test_staff_see_each_connections_state_in_the_list(client, admin_user, connection):
    client.force_login(admin_user)

    page = client.get(CONNECTIONS).content.decode()

    assert "Dr Ada Lovelace" in page
    assert CALENDAR_URL in page
    assert "Dec. 7, 2026, 7 a.m." in page
    assert "Dec. 7, 2026, 7:30 a.m." in page
    assert "The calendar server refused the username or password (HTTP 401)." in page


def test_the_password_never_appears_in_the_admin(client, admin_user, connection):
    client.force_login(admin_user)
    change_url = f"{CONNECTIONS}{connection.pk}/change/"

    pages = [
        client.get(CONNECTIONS),
        client.get(change_url),
        client.get(f"{CONNECTIONS}{connection.pk}/history/"),
        # A form sent back with an error must not fill the password in.
        client.post(
            change_url, change_form(connection, calendar_url="no", new_password=SECRET)
        ),
    ]

    for page in pages:
        assert page.status_code == 200
        html = page.content.decode()
        assert SECRET not in html
        assert connection.password_encrypted not in html
    assert 'name="new_password"' in pages[1].content.decode()


def test_a_new_password_from_the_admin_is_stored_encrypted_and_audited(
    client, admin_user, connection
):
    client.force_login(admin_user)

    answer = client.post(
        f"{CONNECTIONS}{connection.pk}/change/",
        change_form(connection, new_password=NEW_SECRET),
    )

    assert answer.status_code == 302
    connection.refresh_from_db()
    assert connection.password == NEW_SECRET
    assert NEW_SECRET not in connection.password_encrypted
    # Its error was about the old password.
    assert (connection.last_error, connection.last_error_at) == ("", None)
    entry = AuditEntry.objects.filter(action="calendar.connected").first()
    assert (entry.actor_kind, entry.actor_user) == ("staff", admin_user)
    assert entry.changes["password_changed"] is True
    assert NEW_SECRET not in str(entry.changes)


def test_saving_without_a_new_password_keeps_the_old_one(
    client, admin_user, connection
):
    client.force_login(admin_user)

    answer = client.post(
        f"{CONNECTIONS}{connection.pk}/change/",
        change_form(connection, username="ada.lovelace"),
    )

    assert answer.status_code == 302
    connection.refresh_from_db()
    assert (connection.username, connection.password) == ("ada.lovelace", SECRET)


def test_a_new_connection_needs_a_password(client, admin_user, provider):
    client.force_login(admin_user)

    answer = client.post(
        f"{CONNECTIONS}add/",
        {
            "provider": provider.pk,
            "calendar_url": CALENDAR_URL,
            "username": "ada",
            "new_password": "",
            "pushes_bookings": "on",
        },
    )

    assert answer.status_code == 200
    assert "A new connection needs the password." in answer.content.decode()
    assert CalendarConnection.objects.count() == 0


def test_a_password_inside_the_address_is_refused(client, admin_user, provider):
    client.force_login(admin_user)

    answer = client.post(
        f"{CONNECTIONS}add/",
        {
            "provider": provider.pk,
            "calendar_url": f"https://ada:{SECRET}@cal.example.org/dav/",
            "username": "ada",
            "new_password": SECRET,
        },
    )

    assert answer.status_code == 200
    assert "not in the address" in answer.content.decode()
    assert CalendarConnection.objects.count() == 0


def test_a_user_without_staff_rights_is_refused_and_nothing_changes(client, connection):
    outsider = get_user_model().objects.create_user("patient", password="x" * 20)
    client.force_login(outsider)
    audit_entries = AuditEntry.objects.count()

    seen = client.get(CONNECTIONS)
    changed = client.post(
        f"{CONNECTIONS}{connection.pk}/change/",
        change_form(
            connection,
            calendar_url="https://evil.example/steal/",
            new_password=NEW_SECRET,
        ),
    )
    deleted = client.post(f"{CONNECTIONS}{connection.pk}/delete/", {"post": "yes"})

    assert (seen.status_code, changed.status_code, deleted.status_code) == (
        302,
        302,
        302,
    )
    assert seen.url.startswith("/admin/login/")
    after = CalendarConnection.objects.get()
    assert (after.calendar_url, after.username, after.password) == (
        CALENDAR_URL,
        "ada",
        SECRET,
    )
    assert AuditEntry.objects.count() == audit_entries


def test_disconnecting_is_audited(client, admin_user, connection):
    client.force_login(admin_user)

    answer = client.post(f"{CONNECTIONS}{connection.pk}/delete/", {"post": "yes"})

    assert answer.status_code == 302
    assert CalendarConnection.objects.count() == 0
    entry = AuditEntry.objects.get(action="calendar.disconnected")
    assert (entry.actor_kind, entry.object_id) == ("staff", str(connection.pk))


# Feeds and busy times.


def test_staff_see_the_feed_address_and_can_give_it_a_new_one(
    client, admin_user, provider
):
    feed = CalendarFeed.objects.create(provider=provider)
    old_address = absolute_url(reverse("calendars:feed", args=[feed.token]))
    client.force_login(admin_user)

    listed = client.get("/admin/calendars/calendarfeed/").content.decode()
    answer = client.post(
        "/admin/calendars/calendarfeed/",
        {"action": "give_new_addresses", "_selected_action": [feed.pk]},
    )

    assert old_address in listed
    assert answer.status_code == 302
    feed.refresh_from_db()
    new_address = absolute_url(reverse("calendars:feed", args=[feed.token]))
    assert new_address != old_address
    relisted = client.get("/admin/calendars/calendarfeed/").content.decode()
    assert (new_address in relisted, old_address in relisted) == (True, False)
    entry = AuditEntry.objects.get(action="calendar.feed_regenerated")
    assert (entry.actor_kind, entry.actor_user) == ("staff", admin_user)


def test_staff_see_each_busy_feeds_state(client, admin_user, provider, now):
    BusyFeed.objects.create(
        provider=provider,
        url="https://calendar.example.org/ada/busy.ics",
        last_success_at=timezone.now(),
        last_error="The feed answered HTTP 500.",
    )
    client.force_login(admin_user)

    page = client.get("/admin/calendars/busyfeed/").content.decode()

    assert "https://calendar.example.org/ada/busy.ics" in page
    assert "Dec. 7, 2026, 8 a.m." in page
    assert "The feed answered HTTP 500." in page


def test_imported_busy_times_can_be_read_but_not_changed(client, admin_user, provider):
    busy = ImportedBusyTime.objects.create(
        provider=provider,
        source="caldav",
        start=datetime(2026, 12, 8, 9, 0, tzinfo=UTC),
        end=datetime(2026, 12, 8, 10, 0, tzinfo=UTC),
    )
    client.force_login(admin_user)
    base = "/admin/calendars/importedbusytime/"

    listed = client.get(base, {"provider__id__exact": provider.pk})
    added = client.get(f"{base}add/")
    changed = client.post(f"{base}{busy.pk}/change/", {"source": "feed:1"})
    deleted = client.post(f"{base}{busy.pk}/delete/", {"post": "yes"})

    assert listed.status_code == 200
    assert "Dec. 8, 2026, 9 a.m." in listed.content.decode()
    assert (added.status_code, changed.status_code, deleted.status_code) == (
        403,
        403,
        403,
    )
    busy.refresh_from_db()
    assert busy.source == "caldav"
