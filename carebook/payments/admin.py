from django.contrib import admin

from carebook.payments.models import Payment, PaymentAttempt, Refund, WebhookEvent


class PaymentAttemptInline(admin.TabularInline):
    model = PaymentAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["outcome", "decline_reason", "amount", "currency", "at"]


class RefundInline(admin.TabularInline):
    model = Refund
    extra = 0
    can_delete = False
    fields = ["amount", "currency", "reason", "status", "last_error", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ["received_at", "gateway", "event_type", "event_id"]
    list_filter = ["gateway", "event_type"]
    search_fields = ["event_id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    """Staff read payments; only the booking and payment services write them."""

    list_display = ["booking", "gateway", "status", "amount", "currency", "created_at"]
    list_filter = ["gateway", "status"]
    search_fields = ["booking__reference", "gateway_reference"]
    exclude = ["checkout_token", "return_url"]
    readonly_fields = [
        "booking",
        "gateway",
        "status",
        "amount",
        "currency",
        "refunded_amount",
        "disputed_amount",
        "checkout_reference",
        "gateway_reference",
        "completed_at",
    ]
    inlines = [PaymentAttemptInline, RefundInline]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        # Payments are the record of money taken: never deleted.
        return False
