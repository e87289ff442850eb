from django.contrib import admin, messages

from carebook.audit.models import ActorKind
from carebook.audit.services import Actor
from carebook.notifications.models import OutboxMessage
from carebook.notifications.outbox import retry_failed


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    """Staff see every email owed: waiting, sent, and failed with the reason."""

    list_display = [
        "created_at",
        "template",
        "audience",
        "booking",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "last_error",
    ]
    list_filter = ["status", "template", "audience"]
    search_fields = ["booking__reference"]
    date_hierarchy = "created_at"
    list_select_related = ["booking"]
    actions = ["retry"]
    readonly_fields = [
        field.name for field in OutboxMessage._meta.fields if field.name != "id"
    ]

    @admin.action(description="Send the selected failed messages again")
    def retry(self, request, queryset):
        actor = Actor(ActorKind.STAFF, request.user)
        retried = sum(retry_failed(message, actor) for message in queryset)
        skipped = queryset.count() - retried
        self.message_user(request, f"{retried} queued again.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request, f"{skipped} left alone: only failed ones are retried."
            )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
