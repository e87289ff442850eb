from django.contrib import admin

from carebook.payments.models import Payment, PaymentAttempt


class PaymentAttemptInline(admin.TabularInline):
    model = PaymentAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["outcome", "decline_reason", "amount", "currency", "at"]


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
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
        "gateway_reference",
        "completed_at",
    ]
    inlines = [PaymentAttemptInline]
