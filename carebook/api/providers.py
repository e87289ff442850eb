"""Providers and their free slots."""

from datetime import date
from zoneinfo import ZoneInfo

from django.http import Http404
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema
from pydantic import Field

from carebook.api.errors import field_error
from carebook.api.schemas import PriceOut, ProviderOut, ServiceOut, SlotOut, SlotsOut
from carebook.bookings.availability import find_free_slots
from carebook.converters import MAX_ID
from carebook.practice.models import Provider, Service
from carebook.scheduling import Interval, local_days
from carebook.timezones import is_supported_date, is_zone

router = Router(tags=["providers"])

MAX_SLOT_DAYS = 62


def provider_out(provider: Provider) -> ProviderOut:
    currency = provider.practice.currency
    return ProviderOut(
        id=provider.pk,
        name=provider.name,
        specialty=provider.specialty,
        timezone=provider.zone_name,
        services=[
            ServiceOut(
                appointment_type=service.appointment_type.slug,
                name=service.appointment_type.name,
                duration_minutes=service.appointment_type.duration_minutes,
                price=PriceOut.of(service.price_amount, currency),
                deposit=None
                if service.deposit_amount is None
                else PriceOut.of(service.deposit_amount, currency),
            )
            for service in provider.services.all()
        ],
    )


@router.get("", response=list[ProviderOut])
def list_providers(request):
    """List the providers patients can book, with what each offers."""
    providers = Provider.objects.filter(is_active=True).select_related("practice")
    providers = providers.prefetch_related("services__appointment_type")
    return [provider_out(provider) for provider in providers]


class SlotQuery(Schema):
    appointment_type: str = Field(description="The appointment type's slug.")
    start: date = Field(description="First day, in `timezone`.")
    end: date = Field(description="Last day, included, in `timezone`.")
    timezone: str | None = Field(
        default=None, description="IANA zone of the days and answers."
    )


@router.get("/{provider_id}/slots", response=SlotsOut)
def list_slots(request, provider_id: int, query: Query[SlotQuery]):
    """List the free start times for the days `start` to `end` inclusive."""
    if not 0 < provider_id <= MAX_ID:
        raise Http404("No such provider")
    provider = get_object_or_404(
        Provider.objects.select_related("practice"), pk=provider_id, is_active=True
    )
    service = (
        Service.objects.select_related("appointment_type__practice")
        .filter(provider=provider, appointment_type__slug=query.appointment_type)
        .first()
    )
    if service is None:
        raise field_error(
            ["query", "appointment_type"],
            f"{provider.name} does not offer {query.appointment_type!r}",
        )
    zone_name = query.timezone or provider.zone_name
    window = _day_window(query.start, query.end, zone_name)

    slots = find_free_slots(provider, service.appointment_type, window)
    zone = ZoneInfo(zone_name)
    return SlotsOut(
        timezone=zone_name,
        slots=[
            SlotOut(start=slot.start.astimezone(zone), end=slot.end.astimezone(zone))
            for slot in slots
        ],
    )


def _day_window(first: date, last: date, zone_name: str) -> Interval:
    """Return the instants from `first` 00:00 to the end of `last` in a zone."""
    if not is_zone(zone_name):
        raise field_error(["query", "timezone"], f"{zone_name!r} is not an IANA zone")
    for name, day in (("start", first), ("end", last)):
        if not is_supported_date(day):
            raise field_error(
                ["query", name], "date is outside the dates Carebook lists"
            )
    if last < first:
        raise field_error(["query", "end"], "end must not be before start")
    if (last - first).days >= MAX_SLOT_DAYS:
        raise field_error(["query", "end"], f"at most {MAX_SLOT_DAYS} days at once")

    return local_days(first, last, zone_name)
