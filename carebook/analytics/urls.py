from django.urls import path

from carebook.analytics import views

app_name = "analytics"

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/export/<slug:table>.csv", views.export, name="export"),
    path("my-figures/", views.my_figures, name="my_figures"),
]
