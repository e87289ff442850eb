from django import forms
from django.contrib import admin, messages

from carebook.audit.models import ActorKind
from carebook.audit.services import Actor, record_change
from carebook.bookings.models import Booking
from carebook.bookings.services import (
    BookingError,
    cancel_booking,
    record_attendance,
)
from carebook.contact import check_reachable, clean_phone
from carebook.payments.models import Payment
from carebook.staff.roles import own_provider_id


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


class BookingContactForm(forms.ModelForm):
    """The contact details staff may correct, checked as everywhere else."""

    class Meta:
        model = Booking
        fields = ["patient_name", "patient_email", "patient_phone"]

    def clean_patient_phone(self):
        try:
            return clean_phone(self.cleaned_data["patient_phone"])
        except ValueError as refused:
            raise forms.ValidationError(str(refused)) from None

    def clean(self):
        cleaned = super().clean()
        try:
            check_reachable(cleaned.get("patient_email"), cleaned.get("patient_phone"))
        except ValueError as refused:
            self.add_error("patient_email", str(refused))
        return cleaned


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
    # Time, provider, type and price change only through the booking
    # service, which keeps the no-overlap rule; staff may correct contact
    # details here.
    fields = [
        "reference",
        "status",
        "source",
        "provider",
        "appointment_type",
        "start",
        "end",
        "blocked_start",
        "blocked_end",
        "hold_expires_at",
        "price",
        "patient_name",
        "patient_email",
        "patient_phone",
        "patient_timezone",
        "picker_opened_at",
        "held_at",
        "confirmed_at",
        "updated_at",
    ]
    readonly_fields = [
        name
        for name in fields
        if name not in ("patient_name", "patient_email", "patient_phone")
    ]
    form = BookingContactForm
    inlines = [PaymentInline]
    actions = ["cancel", "mark_completed", "mark_no_show"]

    @admin.action(description="Cancel the selected bookings", permissions=["change"])
    def cancel(self, request, queryset):
        self._change_each(request, queryset, cancel_booking, "cancelled")

    @admin.action(
        description="Mark the selected bookings completed", permissions=["change"]
    )
    def mark_completed(self, request, queryset):
        self._mark_attendance(
            request, queryset, Booking.Status.COMPLETED, "marked completed"
        )

    @admin.action(
        description="Mark the selected bookings no-shows", permissions=["change"]
    )
    def mark_no_show(self, request, queryset):
        self._mark_attendance(
            request, queryset, Booking.Status.NO_SHOW, "marked a no-show"
        )

    def _mark_attendance(self, request, queryset, status, done):
        def mark(booking, actor):
            record_attendance(booking, status, actor)

        self._change_each(request, queryset, mark, done)

    def _change_each(self, request, queryset, change, done):
        """Apply a booking service to each booking, reporting each outcome."""
        actor = Actor(ActorKind.STAFF, request.user)
        for booking in queryset:
            try:
                change(booking, actor)
            except BookingError as error:
                self.message_user(
                    request, f"{booking.reference}: {error}", messages.WARNING
                )
            else:
                self.message_user(request, f"{booking.reference} {done}.")

    def get_queryset(self, request):
        """Show a provider only their own bookings."""
        queryset = super().get_queryset(request)
        provider_id = own_provider_id(request.user)
        if provider_id is not None:
            queryset = queryset.filter(provider_id=provider_id)
        return queryset

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        record_change(
            "booking.contact_changed",
            obj,
            Actor(ActorKind.STAFF, request.user),
            {"fields": form.changed_data},
        )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        # Bookings are cancelled, never deleted: payments and the audit
        # trail point at them.
        return False

    @admin.display(description="price", ordering="price_amount")
    def price(self, booking):
        return booking.price_display(booking.provider.practice.locale)
