from django.urls import path

from carebook.calendars import views

app_name = "calendars"

urlpatterns = [
    path("feed/<str:token>.ics", views.feed, name="feed"),
]
