from django.contrib import admin

from carebook.staff.roles import own_provider_id
from carebook.waitlist.models import WaitlistEntry, WaitlistOffer


class WaitlistOfferInline(admin.TabularInline):
    model = WaitlistOffer
    extra = 0
    can_delete = False
    fields = ["start", "status", "offered_at", "expires_at", "booking"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(admin.ModelAdmin):
    """Staff see who waits in which order; patients join and leave themselves."""

    list_display = [
        "joined_at",
        "provider",
        "appointment_type",
        "first_day",
        "last_day",
        "status",
        "patient_name",
    ]
    list_filter = ["provider", "status", "appointment_type"]
    search_fields = ["patient_name", "patient_email", "patient_phone"]
    list_select_related = ["provider", "appointment_type"]
    fields = [
        "provider",
        "appointment_type",
        "first_day",
        "last_day",
        "status",
        "patient_name",
        "patient_email",
        "patient_phone",
        "patient_timezone",
        "joined_at",
    ]
    readonly_fields = fields
    inlines = [WaitlistOfferInline]

    def get_queryset(self, request):
        """Show a provider only their own waitlist."""
        queryset = super().get_queryset(request)
        provider_id = own_provider_id(request.user)
        if provider_id is not None:
            queryset = queryset.filter(provider_id=provider_id)
        return queryset

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
