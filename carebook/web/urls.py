from django.urls import path

import carebook.converters  # noqa: F401  (registers the path converters)
from carebook.web import views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("providers/<id:provider_id>/", views.provider_page, name="provider"),
    path(
        "providers/<id:provider_id>/book/<slug:type_slug>/",
        views.slot_picker,
        name="slots",
    ),
    path(
        "providers/<id:provider_id>/book/<slug:type_slug>/hold/",
        views.hold,
        name="hold",
    ),
    path("booking/<str:token>/details/", views.details, name="details"),
    path("booking/<str:token>/cancel/", views.cancel_page, name="cancel"),
    path("booking/<str:token>/pay/", views.pay_later, name="pay_later"),
    path("booking/<str:token>/reschedule/", views.reschedule_page, name="reschedule"),
    path("booking/<str:token>/", views.booking_page, name="booking"),
]
