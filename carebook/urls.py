from django.contrib import admin
from django.urls import include, path

from carebook.api.urls import api

admin.site.site_header = "Carebook staff"
admin.site.site_title = "Carebook staff"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("pay/", include("carebook.payments.urls")),
    path("calendars/", include("carebook.calendars.urls")),
    path("staff/", include("carebook.analytics.urls")),
    path("staff/", include("carebook.staff.urls")),
    path("waitlist/", include("carebook.waitlist.urls")),
    path("", include("carebook.web.urls")),
]
