from django.urls import path

from carebook.waitlist import views

app_name = "waitlist"

urlpatterns = [
    path(
        "join/<int:provider_id>/<slug:type_slug>/",
        views.join_page,
        name="join",
    ),
    path("offer/<str:token>/", views.offer_page, name="offer"),
    path("<str:token>/", views.entry_page, name="entry"),
]
