from django.urls import path

from carebook.payments import views

app_name = "payments"

urlpatterns = [
    path("demo/<str:checkout_token>/", views.demo_checkout, name="demo_checkout"),
    path("stripe/<str:checkout_token>/", views.stripe_checkout, name="stripe_checkout"),
    path("stripe-webhook/", views.stripe_webhook, name="stripe_webhook"),
]
