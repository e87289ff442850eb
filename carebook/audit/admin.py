from django.contrib import admin

from carebook.audit.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = [
        "at",
        "action",
        "object_type",
        "object_id",
        "actor_kind",
        "actor_user",
    ]
    list_filter = ["action", "actor_kind"]
    search_fields = ["object_id"]
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
