"""Checkout pages and gateway webhooks."""

import stripe
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from carebook.audit.services import PATIENT
from carebook.bookings.services import settle_payment
from carebook.payments import stripe_flow, stripe_gateway
from carebook.payments.forms import DemoCardForm
from carebook.payments.gateways import DemoGateway, StripeGateway
from carebook.payments.models import Payment
from carebook.payments.services import is_checkout_open, record_decline


@never_cache
def demo_checkout(request, checkout_token: str):
    """Take a test card for one payment, as a card processor's page would."""
    payment = get_object_or_404(
        Payment.objects.select_related("booking__provider__practice"),
        checkout_token=checkout_token,
        gateway=DemoGateway.name,
    )
    if payment.status == Payment.Status.SUCCEEDED:
        return redirect(payment.return_url)
    is_open = is_checkout_open(payment)

    form = DemoCardForm(request.POST or None)
    decline = ""
    if request.method == "POST" and is_open and form.is_valid():
        result = DemoGateway().charge_card(form.cleaned_data["card_number"])
        if result.is_paid:
            settle_payment(payment.pk, f"demo_{payment.checkout_token[:12]}", PATIENT)
            return redirect(payment.return_url)
        record_decline(payment, result.decline_reason, PATIENT)
        decline = result.decline_reason.replace("_", " ")

    return render(
        request,
        "payments/demo_checkout.html",
        {
            "payment": payment,
            "booking": payment.booking,
            "form": form,
            "decline": decline,
            "is_open": is_open,
            "paid_card": DemoGateway.PAID_CARD,
            "declined_card": "4000000000000002",
        },
        status=402 if decline else 200,
    )


@never_cache
def stripe_checkout(request, checkout_token: str):
    """Send the patient to Stripe's page for their payment."""
    payment = get_object_or_404(
        Payment.objects.select_related("booking__provider__practice"),
        checkout_token=checkout_token,
        gateway=StripeGateway.name,
    )
    if payment.status == Payment.Status.SUCCEEDED:
        return redirect(payment.return_url)
    closed = render(
        request,
        "payments/demo_checkout.html",
        {"payment": payment, "booking": payment.booking, "is_open": False},
        status=410,
    )
    if not is_checkout_open(payment):
        return closed
    page = stripe_flow.open_checkout(payment)
    return redirect(page) if page else closed


@csrf_exempt
@require_POST
def stripe_webhook(request):
    """Take an event from Stripe, once, after checking its signature."""
    try:
        event = stripe_gateway.construct_event(
            request.body, request.headers.get("Stripe-Signature", "")
        )
    except (ValueError, stripe.SignatureVerificationError):
        return JsonResponse({"detail": "bad signature or payload"}, status=400)
    outcome = stripe_flow.handle_event(event)
    return JsonResponse({"received": True, "outcome": outcome})
