from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from carebook.staff.models import ApiToken, StaffMember
from carebook.staff.roles import sync_staff_user
from carebook.staff.tokens import create_api_token


class StaffMemberInline(admin.StackedInline):
    model = StaffMember
    can_delete = False
    verbose_name_plural = "role"
    autocomplete_fields = ["provider"]


class StaffUserAdmin(UserAdmin):
    inlines = [StaffMemberInline]
    list_display = ["username", "first_name", "last_name", "is_active", "role"]
    list_select_related = ["staff_member"]

    @admin.display(description="role", ordering="staff_member__role")
    def role(self, user):
        member = getattr(user, "staff_member", None)
        if user.is_superuser:
            return "superuser"
        return member.get_role_display() if member else "—"

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        member = StaffMember.objects.filter(user=form.instance).first()
        if member is not None:
            sync_staff_user(member)


admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), StaffUserAdmin)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "last_used_at"]
    fields = ["user", "name", "prefix", "created_at", "last_used_at"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]
    autocomplete_fields = ["user"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        token, key = create_api_token(obj.user, obj.name)
        obj.pk = token.pk
        self.message_user(
            request,
            f"The token's key, shown only this once: {key}",
            messages.WARNING,
        )

    def has_change_permission(self, request, obj=None):
        # A token is made or deleted, never edited.
        return False
