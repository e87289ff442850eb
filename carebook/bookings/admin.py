from django.contrib import admin

from carebook.bookings.models import Booking
from carebook.payments.models import Payment


class PaymentInline(admin.TabularInline):
    model = Payment
    extra = 0
    can_delete = False
    fields = [
        "gateway",
        "status",
        "amount",
        "currency",
        "refunded_amount",
        "created_at",
    ]
    readonly_fields = fields


@admin.register(Booking)
class BookingAdmin(admin.ModelAdmin):
    list_display = [
        "reference",
        "start",
        "provider",
        "appointment_type",
        "status",
        "patient_name",
        "price",
    ]
    list_filter = [
        "provider",
        "status",
        ("start", admin.DateFieldListFilter),
        "appointment_type",
        "source",
    ]
    search_fields = ["reference", "patient_name", "patient_email", "patient_phone"]
    date_hierarchy = "start"
    list_select_related = ["provider__practice", "appointment_type"]
    readonly_fields = [
        "reference",
        "status",
        "source",
        "start",
        "end",
        "blocked_start",
        "blocked_end",
        "hold_expires_at",
        "price_amount",
        "currency",
        "picker_opened_at",
        "held_at",
        "confirmed_at",
        "updated_at",
    ]
    exclude = ["token_hash"]
    inlines = [PaymentInline]

    @admin.display(description="price", ordering="price_amount")
    def price(self, booking):
        return booking.price_display(booking.provider.practice.locale)
