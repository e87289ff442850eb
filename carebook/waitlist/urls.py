from django.urls import path

import carebook.converters  # noqa: F401  (registers the path converters)
from carebook.waitlist import views

app_name = "waitlist"

urlpatterns = [
    path(
        "join/<id:provider_id>/<slug:type_slug>/",
        views.join_page,
        name="join",
    ),
    path("offer/<str:token>/", views.offer_page, name="offer"),
    path("<str:token>/", views.entry_page, name="entry"),
]
