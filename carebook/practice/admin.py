from django.contrib import admin

from carebook.practice.models import (
    AppointmentType,
    DateOverride,
    Practice,
    Provider,
    Service,
    TimeOff,
    WeeklyHours,
)


class AppointmentTypeInline(admin.TabularInline):
    model = AppointmentType
    extra = 0


@admin.register(Practice)
class PracticeAdmin(admin.ModelAdmin):
    list_display = ["name", "timezone", "currency", "locale"]
    inlines = [AppointmentTypeInline]


class ServiceInline(admin.TabularInline):
    model = Service
    extra = 0


class WeeklyHoursInline(admin.TabularInline):
    model = WeeklyHours
    extra = 0


class DateOverrideInline(admin.TabularInline):
    model = DateOverride
    extra = 0


class TimeOffInline(admin.TabularInline):
    model = TimeOff
    extra = 0


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    list_display = ["name", "specialty", "practice", "zone_name", "is_active"]
    list_filter = ["practice", "specialty", "is_active"]
    search_fields = ["name", "specialty"]
    inlines = [ServiceInline, WeeklyHoursInline, DateOverrideInline, TimeOffInline]


@admin.register(AppointmentType)
class AppointmentTypeAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "practice",
        "duration_minutes",
        "buffer_before_minutes",
        "buffer_after_minutes",
    ]
    list_filter = ["practice"]
