from django.urls import path
from django.views.generic import RedirectView

import carebook.converters  # noqa: F401  (registers the path converters)
from carebook.staff import views

app_name = "staff"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="staff:schedule"), name="home"),
    path("schedule/", views.schedule, name="schedule"),
    path("book/", views.book_for_patient, name="book"),
    path("bookings/<reference:reference>/", views.booking_detail, name="booking"),
    path(
        "bookings/<reference:reference>/move/", views.move_booking, name="move_booking"
    ),
    path(
        "bookings/<reference:reference>/<slug:action>/",
        views.mark_booking,
        name="mark_booking",
    ),
    path("hours/", views.hours_index, name="hours_index"),
    path("hours/<id:provider_id>/", views.hours, name="hours"),
    path(
        "hours/<id:provider_id>/weekly/",
        views.save_weekly_hours,
        name="save_weekly_hours",
    ),
    path("hours/<id:provider_id>/time-off/", views.add_time_off, name="add_time_off"),
    path(
        "hours/<id:provider_id>/time-off/<id:time_off_id>/remove/",
        views.remove_time_off,
        name="remove_time_off",
    ),
    path("hours/<id:provider_id>/dates/", views.set_date_hours, name="set_date_hours"),
    path(
        "hours/<id:provider_id>/dates/<str:day>/clear/",
        views.clear_date_hours,
        name="clear_date_hours",
    ),
]
