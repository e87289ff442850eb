"""Staff pages for providers' calendars: connections, feeds, busy times.

A connection's password goes in and never comes out: the form takes a new
one in a field that is never filled back in, and no page shows it.
"""

from functools import partial
from urllib.parse import urlsplit

from django import forms
from django.contrib import admin, messages
from django.db import models, transaction
from django.urls import reverse

from carebook.audit.models import ActorKind
from carebook.audit.services import Actor
from carebook.calendars.models import (
    BusyFeed,
    CalendarConnection,
    CalendarFeed,
    ImportedBusyTime,
)
from carebook.calendars.services import connect_calendar, disconnect_calendar
from carebook.calendars.tasks import import_provider_busy_times
from carebook.web.links import absolute_url


def _staff(request) -> Actor:
    return Actor(ActorKind.STAFF, request.user)


class CalendarConnectionForm(forms.ModelForm):
    """The connection's settings, with a write-only password."""

    calendar_url = forms.URLField(
        label="Calendar address",
        max_length=500,
        assume_scheme="https",
        help_text="The address of the calendar itself, as the calendar "
        "service gives it for CalDAV.",
    )
    new_password = forms.CharField(
        label="Password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="The calendar service's app password. Leave empty to keep "
        "the stored one; it is kept encrypted and never shown.",
    )

    class Meta:
        model = CalendarConnection
        fields = [
            "provider",
            "calendar_url",
            "username",
            "pushes_bookings",
            "imports_busy_times",
        ]

    def clean_calendar_url(self):
        url = self.cleaned_data["calendar_url"]
        if urlsplit(url).password is not None:
            raise forms.ValidationError(
                "Put the password in its own field, not in the address."
            )
        return url

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None and not cleaned.get("new_password"):
            self.add_error("new_password", "A new connection needs the password.")
        return cleaned


@admin.register(CalendarConnection)
class CalendarConnectionAdmin(admin.ModelAdmin):
    """Staff see whether each provider's CalDAV calendar works."""

    form = CalendarConnectionForm
    list_display = [
        "provider",
        "calendar_url",
        "pushes_bookings",
        "imports_busy_times",
        "last_success_at",
        "last_error_at",
        "last_error",
    ]
    list_filter = ["pushes_bookings", "imports_busy_times"]
    list_select_related = ["provider"]
    search_fields = ["provider__name", "calendar_url"]
    fields = [
        "provider",
        "calendar_url",
        "username",
        "new_password",
        "pushes_bookings",
        "imports_busy_times",
        "last_success_at",
        "last_error_at",
        "last_error",
    ]
    readonly_fields = ["last_success_at", "last_error_at", "last_error"]
    actions = ["disconnect"]

    def get_readonly_fields(self, request, obj=None):
        # A connection belongs to its provider for life.
        if obj is not None:
            return [*self.readonly_fields, "provider"]
        return self.readonly_fields

    def get_actions(self, request):
        actions = super().get_actions(request)
        # Deleting goes through `disconnect`, which writes the audit entry.
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request, obj, form, change):
        """Save through the service: encrypted, audited, caught up."""
        connection = connect_calendar(
            obj.provider,
            obj.calendar_url,
            obj.username,
            form.cleaned_data["new_password"] or None,
            _staff(request),
            pushes_bookings=obj.pushes_bookings,
            imports_busy_times=obj.imports_busy_times,
        )
        obj.pk = connection.pk

    def delete_model(self, request, obj):
        disconnect_calendar(obj, _staff(request))

    @admin.action(
        description="Disconnect the selected calendars", permissions=["delete"]
    )
    def disconnect(self, request, queryset):
        connections = list(queryset)
        for connection in connections:
            disconnect_calendar(connection, _staff(request))
        self.message_user(
            request, f"{len(connections)} disconnected.", messages.SUCCESS
        )


@admin.register(CalendarFeed)
class CalendarFeedAdmin(admin.ModelAdmin):
    """Each provider's private feed address, and a way to replace it."""

    list_display = ["provider", "feed_address", "created_at"]
    list_select_related = ["provider"]
    search_fields = ["provider__name"]
    fields = ["provider", "feed_address", "created_at"]
    readonly_fields = ["feed_address", "created_at"]
    actions = ["give_new_addresses"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            return [*self.readonly_fields, "provider"]
        return self.readonly_fields

    @admin.display(description="Feed address")
    def feed_address(self, feed):
        if feed.pk is None:
            return "—"
        return absolute_url(reverse("calendars:feed", args=[feed.token]))

    @admin.action(description="Give new addresses to the selected feeds")
    def give_new_addresses(self, request, queryset):
        # Imported here: the feeds module is built apart from this one.
        from carebook.calendars.feeds import regenerate_feed_token

        feeds = list(queryset)
        for feed in feeds:
            regenerate_feed_token(feed, _staff(request))
        self.message_user(
            request,
            f"{len(feeds)} given new addresses; the old ones no longer work.",
            messages.SUCCESS,
        )


@admin.register(BusyFeed)
class BusyFeedAdmin(admin.ModelAdmin):
    """Outside calendars whose events block providers' time."""

    list_display = ["provider", "url", "last_success_at", "last_error_at", "last_error"]
    list_select_related = ["provider"]
    list_filter = ["provider"]
    readonly_fields = ["last_success_at", "last_error_at", "last_error"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # Read the new address at once rather than at the next quarter hour.
        transaction.on_commit(
            partial(import_provider_busy_times, obj.provider_id), robust=True
        )


@admin.register(ImportedBusyTime)
class ImportedBusyTimeAdmin(admin.ModelAdmin):
    """What the imports found, to read: each import replaces its rows."""

    list_display = ["provider", "start", "end", "source"]
    list_filter = ["provider"]
    list_select_related = ["provider"]
    date_hierarchy = "start"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
