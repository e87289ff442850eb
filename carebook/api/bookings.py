"""Bookings: make one, and read it back with its secret token."""

import hmac

from django.http import Http404
from ninja import Router, Status

from carebook.api.errors import field_error
from carebook.api.schemas import (
    BookingCreatedOut,
    BookingIn,
    BookingOut,
    ErrorOut,
    PriceOut,
)
from carebook.audit.services import Actor
from carebook.bookings import services
from carebook.bookings.models import Booking, hash_token
from carebook.payments.models import Payment
from carebook.payments.services import checkout_url
from carebook.practice.models import AppointmentType, Provider
from carebook.timezones import is_zone
from carebook.web.links import absolute_url, booking_url

router = Router(tags=["bookings"])


def booking_out(booking: Booking) -> dict:
    return {
        "reference": booking.reference,
        "status": booking.status,
        "provider": booking.provider_id,
        "appointment_type": booking.appointment_type.slug,
        "start": booking.start,
        "end": booking.end,
        "price": PriceOut.of(booking.price_amount, booking.currency),
        "due_online": PriceOut.of(booking.online_amount, booking.currency),
        "hold_expires_at": booking.hold_expires_at,
    }


@router.post(
    "",
    response={201: BookingCreatedOut, 409: ErrorOut},
    summary="Book a free slot",
)
def create_booking(request, data: BookingIn):
    """Book a slot for a patient.

    The answer carries the booking's secret `token`, shown only here, and a
    `payment_url` when the price is due now. 409 means the time is not free.
    """
    provider = (
        Provider.objects.select_related("practice")
        .filter(pk=data.provider, is_active=True)
        .first()
    )
    if provider is None:
        raise field_error(["body", "data", "provider"], "no such provider")
    appointment_type = AppointmentType.objects.filter(
        practice=provider.practice, slug=data.appointment_type
    ).first()
    if appointment_type is None:
        raise field_error(
            ["body", "data", "appointment_type"], "no such appointment type"
        )
    zone = data.timezone or provider.zone_name
    if not is_zone(zone):
        raise field_error(["body", "data", "timezone"], f"{zone!r} is not an IANA zone")

    try:
        held = services.book_slot(
            provider=provider,
            appointment_type=appointment_type,
            start=data.start,
            patient_timezone=zone,
            patient_language=data.language,
            source=Booking.Source.API,
            actor=Actor.for_request(request),
            patient=services.PatientDetails(
                data.patient.name, data.patient.email, data.patient.phone
            ),
            return_url_for=booking_url,
        )
    except services.NotOffered as error:
        raise field_error(["body", "data", "appointment_type"], str(error)) from None

    booking = held.booking
    payment = booking.payments.filter(status=Payment.Status.PENDING).first()
    return Status(
        201,
        {
            **booking_out(booking),
            "token": held.token,
            "payment_url": absolute_url(checkout_url(payment)) if payment else None,
        },
    )


@router.get(
    "/{reference}",
    response={200: BookingOut, 404: ErrorOut},
    summary="Read a booking with its token",
    openapi_extra={"security": [{"BookingToken": []}]},
)
def read_booking(request, reference: str):
    """Return the booking; send its token as `Authorization: Bearer TOKEN`.

    Any reference without its right token answers 404, so references cannot
    be probed.
    """
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    is_reference = reference.isascii() and reference.isalnum() and len(reference) <= 16
    booking = (
        Booking.objects.select_related("appointment_type")
        .filter(reference=reference.upper())
        .first()
        if is_reference
        else None
    )
    if (
        booking is None
        or scheme.lower() != "bearer"
        or not hmac.compare_digest(booking.token_hash, hash_token(token.strip()))
    ):
        raise Http404("No such booking")
    return booking_out(booking)
