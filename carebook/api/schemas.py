"""Shapes of the API's requests and answers."""

import unicodedata
from datetime import datetime
from typing import Annotated, Literal

from ninja import Schema
from pydantic import (
    AfterValidator,
    ConfigDict,
    EmailStr,
    Field,
    StrictInt,
    StringConstraints,
    field_validator,
)

from carebook.contact import clean_phone
from carebook.converters import MAX_ID
from carebook.money import decimal_string
from carebook.timezones import is_supported_date


def _printable(value: str) -> str:
    """Refuse control characters, which no name or phone number holds."""
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise ValueError("must not contain control characters")
    return value


Text = Annotated[
    str, StringConstraints(strip_whitespace=True), AfterValidator(_printable)
]


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
    deposit: PriceOut | None = Field(
        description="Paid online instead of the price, the rest at the desk."
    )


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
    model_config = ConfigDict(extra="forbid")

    name: Annotated[Text, Field(min_length=1, max_length=200)]
    email: EmailStr
    phone: Annotated[Text, Field(max_length=40), AfterValidator(clean_phone)] = ""


class BookingIn(Schema):
    model_config = ConfigDict(extra="forbid")

    provider: Annotated[StrictInt, Field(ge=1, le=MAX_ID)]
    appointment_type: str = Field(min_length=1, max_length=50)
    start: datetime
    patient: PatientIn
    timezone: str | None = Field(
        default=None, description="The patient's IANA zone; the provider's if absent."
    )
    language: Literal["en", "de"] = Field(
        default="en", description="The language of the patient's emails."
    )

    @field_validator("start")
    @classmethod
    def start_has_offset(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("start needs a UTC offset, as in RFC 3339")
        if not is_supported_date(value.date()):
            raise ValueError("start is outside the dates Carebook books")
        return value


class BookingOut(Schema):
    reference: str
    status: str
    provider: int
    appointment_type: str
    start: datetime
    end: datetime
    price: PriceOut
    due_online: PriceOut = Field(description="The price, or the deposit if one.")
    hold_expires_at: datetime | None


class BookingCreatedOut(BookingOut):
    token: str
    payment_url: str | None


class ErrorOut(Schema):
    detail: str
