"""Shapes of the API's requests and answers."""

from datetime import datetime

from ninja import Schema
from pydantic import EmailStr, Field, field_validator

from carebook.money import decimal_string


class PriceOut(Schema):
    amount: str = Field(examples=["80.00"])
    currency: str = Field(examples=["EUR"])

    @classmethod
    def of(cls, amount: int, currency: str) -> "PriceOut":
        return cls(amount=decimal_string(amount, currency), currency=currency)


class ServiceOut(Schema):
    appointment_type: str
    name: str
    duration_minutes: int
    price: PriceOut


class ProviderOut(Schema):
    id: int
    name: str
    specialty: str
    timezone: str
    services: list[ServiceOut]


class SlotOut(Schema):
    start: datetime
    end: datetime


class SlotsOut(Schema):
    timezone: str
    slots: list[SlotOut]


class PatientIn(Schema):
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    phone: str = Field(default="", max_length=40)

    @field_validator("name", "phone")
    @classmethod
    def strip(cls, value: str) -> str:
        return value.strip()


class BookingIn(Schema):
    provider: int
    appointment_type: str = Field(min_length=1, max_length=50)
    start: datetime
    patient: PatientIn
    timezone: str | None = Field(
        default=None, description="The patient's IANA zone; the provider's if absent."
    )

    @field_validator("start")
    @classmethod
    def start_has_offset(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("start needs a UTC offset, as in RFC 3339")
        return value


class BookingOut(Schema):
    reference: str
    status: str
    provider: int
    appointment_type: str
    start: datetime
    end: datetime
    price: PriceOut
    hold_expires_at: datetime | None


class BookingCreatedOut(BookingOut):
    token: str
    payment_url: str | None


class ErrorOut(Schema):
    detail: str
