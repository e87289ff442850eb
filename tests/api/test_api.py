"""The REST API under /api/v1, answer by answer."""

from datetime import UTC, datetime, time

import pytest

from carebook.bookings import services
from carebook.bookings.models import Booking
from carebook.practice.models import AppointmentType, Practice, Service
from tests.conftest import make_provider

BOOKING = {
    "provider": None,
    "appointment_type": "consultation",
    "start": "2026-12-07T11:00:00+00:00",
    "patient": {"name": "Zoë Ní Bhriain", "email": "zoe@example.ie", "phone": ""},
}


@pytest.fixture
def body(provider):
    return {**BOOKING, "provider": provider.pk}


def post_booking(client, body):
    return client.post("/api/v1/bookings", body, content_type="application/json")


def slots(client, provider, **query):
    params = {
        "appointment_type": "follow-up",
        "start": "2026-12-07",
        "end": "2026-12-07",
    }
    return client.get(f"/api/v1/providers/{provider.pk}/slots", {**params, **query})


def test_providers_list_services_with_prices(client, provider):
    answer = client.get("/api/v1/providers")

    assert answer.status_code == 200
    assert answer.json() == [
        {
            "id": provider.pk,
            "name": "Dr Ada Lovelace",
            "specialty": "General practice",
            "timezone": "Europe/Dublin",
            "services": [
                {
                    "appointment_type": "consultation",
                    "name": "Consultation",
                    "duration_minutes": 30,
                    "price": {"amount": "80.00", "currency": "EUR"},
                    "deposit": None,
                },
                {
                    "appointment_type": "follow-up",
                    "name": "Follow-up",
                    "duration_minutes": 15,
                    "price": {"amount": "45.00", "currency": "EUR"},
                    "deposit": None,
                },
            ],
        }
    ]


def test_zero_decimal_currency_has_no_minor_digits(client, db):
    practice = Practice.objects.create(
        slug="tokyo", name="Tokyo", timezone="Asia/Tokyo", currency="JPY"
    )
    kind = AppointmentType.objects.create(
        practice=practice, slug="consultation", name="Consultation", duration_minutes=30
    )
    doctor = make_provider(practice, "sato", "Dr Sato")
    Service.objects.create(provider=doctor, appointment_type=kind, price_amount=8000)

    answer = client.get("/api/v1/providers")

    assert answer.json()[0]["services"][0]["price"] == {
        "amount": "8000",
        "currency": "JPY",
    }
    assert answer.json()[0]["timezone"] == "Asia/Tokyo"


def test_slots_of_a_day_in_the_providers_zone(client, provider, now):
    answer = slots(client, provider, start="2026-12-08", end="2026-12-08")

    assert answer.status_code == 200
    starts = [slot["start"] for slot in answer.json()["slots"]]
    morning = [
        f"2026-12-08T{h:02}:{m:02}:00Z" for h in (9, 10, 11) for m in (0, 15, 30, 45)
    ]
    afternoon = [
        f"2026-12-08T{h:02}:{m:02}:00Z"
        for h in (13, 14, 15, 16)
        for m in (0, 15, 30, 45)
    ][2:]
    assert starts == [
        *morning,
        "2026-12-08T12:00:00Z",
        "2026-12-08T12:15:00Z",
        *afternoon,
    ]
    assert answer.json()["slots"][0] == {
        "start": "2026-12-08T09:00:00Z",
        "end": "2026-12-08T09:15:00Z",
    }
    assert answer.json()["timezone"] == "Europe/Dublin"


def test_slots_carry_the_offset_of_the_requested_zone(client, provider, now):
    # 2026-12-08 in Auckland (UTC+13) runs from 11:00 UTC on the 7th to
    # 11:00 UTC on the 8th: the end of Monday morning in Dublin (6 slots),
    # Monday afternoon (14) and the start of Tuesday morning (8).
    answer = slots(
        client,
        provider,
        start="2026-12-08",
        end="2026-12-08",
        timezone="Pacific/Auckland",
    )

    found = answer.json()["slots"]
    assert found[0] == {
        "start": "2026-12-08T00:00:00+13:00",
        "end": "2026-12-08T00:15:00+13:00",
    }
    assert [slot["start"][11:16] for slot in found[5:8]] == ["01:15", "02:30", "02:45"]
    assert found[-1]["start"] == "2026-12-08T23:45:00+13:00"
    assert len(found) == 6 + 14 + 8


def test_a_booked_slot_disappears_from_the_list(client, provider, body, now):
    post_booking(client, {**body, "appointment_type": "follow-up"})

    starts = [s["start"] for s in slots(client, provider).json()["slots"]]

    assert "2026-12-07T11:00:00Z" not in starts
    assert starts[:3] == [
        "2026-12-07T10:00:00Z",
        "2026-12-07T10:15:00Z",
        "2026-12-07T10:30:00Z",
    ]
    assert starts[3:5] == ["2026-12-07T10:45:00Z", "2026-12-07T11:15:00Z"]


@pytest.mark.parametrize(
    ("query", "location", "message"),
    [
        (
            {"timezone": "Mars/Olympus"},
            "timezone",
            "'Mars/Olympus' is not an IANA zone",
        ),
        ({"end": "2026-12-06"}, "end", "end must not be before start"),
        ({"end": "2027-02-07"}, "end", "at most 62 days at once"),
        (
            {"appointment_type": "surgery"},
            "appointment_type",
            "Dr Ada Lovelace does not offer 'surgery'",
        ),
    ],
)
def test_bad_slot_queries_get_422_naming_the_field(
    client, provider, query, location, message
):
    answer = slots(client, provider, **query)

    assert answer.status_code == 422
    assert answer.json() == {
        "detail": [{"type": "value_error", "loc": ["query", location], "msg": message}]
    }


def test_malformed_date_gets_422(client, provider):
    answer = slots(client, provider, start="7/12/2026")

    assert answer.status_code == 422
    assert [error["loc"] for error in answer.json()["detail"]] == [["query", "start"]]


def test_slots_of_an_unknown_provider_are_404(client, db):
    answer = client.get(
        "/api/v1/providers/999/slots",
        {"appointment_type": "x", "start": "2026-12-07", "end": "2026-12-07"},
    )

    assert answer.status_code == 404


def test_booking_a_paid_slot_returns_token_and_payment_url(client, body, now):
    answer = post_booking(client, body)

    assert answer.status_code == 201
    data = answer.json()
    booking = Booking.objects.get()
    payment = booking.payments.get()
    assert data == {
        "reference": booking.reference,
        "status": "pending_payment",
        "provider": body["provider"],
        "appointment_type": "consultation",
        "start": "2026-12-07T11:00:00Z",
        "end": "2026-12-07T11:30:00Z",
        "price": {"amount": "80.00", "currency": "EUR"},
        "due_online": {"amount": "80.00", "currency": "EUR"},
        "hold_expires_at": "2026-12-07T08:30:00Z",
        "token": data["token"],
        "payment_url": f"http://127.0.0.1:8000/pay/demo/{payment.checkout_token}/",
    }
    assert len(data["token"]) == 43
    assert booking.source == "api"
    assert booking.patient_name == "Zoë Ní Bhriain"


def test_booking_a_free_service_confirms_without_payment_url(client, body, now):
    Service.objects.update(price_amount=0)

    data = post_booking(client, body).json()

    assert (data["status"], data["payment_url"]) == ("confirmed", None)
    assert data["price"] == {"amount": "0.00", "currency": "EUR"}


def test_booking_a_taken_slot_gets_409(client, body, now):
    post_booking(client, body)

    answer = post_booking(client, body)

    assert answer.status_code == 409
    assert answer.json() == {"detail": "That time is not available to book."}
    assert Booking.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "location"),
    [
        ({"patient": {"name": "Zoë", "email": "not-an-email"}}, ["patient", "email"]),
        ({"patient": {"name": "", "email": "z@example.ie"}}, ["patient", "name"]),
        ({"patient": {"email": "z@example.ie"}}, ["patient", "name"]),
        ({"start": "2026-12-07T11:00:00"}, ["start"]),
        ({"start": "tomorrow"}, ["start"]),
        ({"provider": "one"}, ["provider"]),
        ({"provider": 999}, ["provider"]),
        ({"appointment_type": "surgery"}, ["appointment_type"]),
        ({"timezone": "Nowhere/Land"}, ["timezone"]),
    ],
)
def test_bad_booking_requests_get_422_naming_the_field(
    client, body, now, change, location
):
    answer = post_booking(client, {**body, **change})

    assert answer.status_code == 422
    locations = [error["loc"] for error in answer.json()["detail"]]
    assert locations == [["body", "data", *location]]
    assert Booking.objects.count() == 0


def test_booking_body_that_is_not_json_gets_4xx(client, db):
    answer = client.post("/api/v1/bookings", "{", content_type="application/json")

    assert answer.status_code == 400
    assert Booking.objects.count() == 0


def test_booking_is_read_back_with_its_token(client, body, now):
    created = post_booking(client, body).json()

    answer = client.get(
        f"/api/v1/bookings/{created['reference']}",
        headers={"Authorization": f"Bearer {created['token']}"},
    )

    assert answer.status_code == 200
    assert answer.json() == {
        key: created[key]
        for key in (
            "reference",
            "status",
            "provider",
            "appointment_type",
            "start",
            "end",
            "price",
            "due_online",
            "hold_expires_at",
        )
    }


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", "Basic abc", "Bearer "],
)
def test_booking_without_its_token_is_404(client, body, now, authorization):
    created = post_booking(client, body).json()
    headers = {"Authorization": authorization} if authorization else {}

    answer = client.get(f"/api/v1/bookings/{created['reference']}", headers=headers)

    assert answer.status_code == 404


def test_another_bookings_token_does_not_open_this_one(client, body, now):
    first = post_booking(client, body).json()
    second = post_booking(client, {**body, "start": "2026-12-07T14:00:00Z"}).json()

    answer = client.get(
        f"/api/v1/bookings/{first['reference']}",
        headers={"Authorization": f"Bearer {second['token']}"},
    )

    assert answer.status_code == 404


def test_openapi_document_describes_the_endpoints(client, db):
    document = client.get("/api/v1/openapi.json").json()

    assert document["info"]["title"] == "Carebook API"
    assert sorted(document["paths"]) == [
        "/api/v1/bookings",
        "/api/v1/bookings/{reference}",
        "/api/v1/providers",
        "/api/v1/providers/{provider_id}/slots",
        "/api/v1/staff/dashboard",
    ]
    staff = document["paths"]["/api/v1/staff/dashboard"]["get"]
    assert staff["security"] == [{"StaffToken": []}]
    assert document["components"]["securitySchemes"]["StaffToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A staff user's API token, made in the staff admin "
        "or with `manage.py create_api_token`.",
    }
    assert client.get("/api/v1/docs").status_code == 200


def test_weekly_hours_through_midnight_give_slots_across_it(client, practice, now):
    kind = AppointmentType.objects.create(
        practice=practice, slug="night", name="Night call", duration_minutes=60
    )
    doctor = make_provider(practice, "owl", "Dr Owl")
    doctor.weekly_hours.all().delete()
    doctor.weekly_hours.create(weekday=0, start_time=time(22), end_time=time(2))
    Service.objects.create(provider=doctor, appointment_type=kind, price_amount=100)

    answer = client.get(
        f"/api/v1/providers/{doctor.pk}/slots",
        {"appointment_type": "night", "start": "2026-12-07", "end": "2026-12-08"},
    )

    starts = [
        datetime.fromisoformat(s["start"]).astimezone(UTC).strftime("%d %H:%M")
        for s in answer.json()["slots"]
    ]
    assert starts[0] == "07 22:00"
    assert starts[-1] == "08 01:00"
    assert len(starts) == 13


@pytest.mark.parametrize(
    ("change", "location"),
    [
        ({"start": "0001-01-01T00:00:00+00:00"}, ["start"]),
        ({"start": "9999-12-31T23:59:00+00:00"}, ["start"]),
        (
            {"patient": {"name": "A\u0000B", "email": "a@example.ie"}},
            ["patient", "name"],
        ),
        ({"patient": {"name": "   ", "email": "a@example.ie"}}, ["patient", "name"]),
        (
            {"patient": {"name": "A", "email": "a@example.ie", "phone": "1\u00002"}},
            ["patient", "phone"],
        ),
        (
            {"patient": {"name": "A", "email": "a@example.ie", "ssn": "1"}},
            ["patient", "ssn"],
        ),
        ({"notes": "chest pain"}, ["notes"]),
        ({"provider": True}, ["provider"]),
    ],
)
def test_unsafe_or_unknown_booking_input_gets_422_and_holds_nothing(
    client, body, now, change, location
):
    answer = post_booking(client, {**body, **change})

    assert answer.status_code == 422
    assert [error["loc"] for error in answer.json()["detail"]] == [
        ["body", "data", *location]
    ]
    assert Booking.objects.count() == 0


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_slots_for_dates_out_of_range_get_422(client, provider, day):
    answer = slots(client, provider, start=day, end=day)

    assert answer.status_code == 422
    assert (
        answer.json()["detail"][0]["msg"] == "date is outside the dates Carebook lists"
    )


def test_failure_after_the_hold_leaves_no_hold(client, body, now, monkeypatch):
    def refuse(*args, **kwargs):
        raise services.WrongState("payment could not start")

    monkeypatch.setattr(services, "add_patient_details", refuse)

    answer = post_booking(client, body)

    assert answer.status_code == 409
    assert Booking.objects.count() == 0


def test_openapi_document_declares_the_booking_token_scheme(client, db):
    document = client.get("/api/v1/openapi.json").json()

    assert (
        document["components"]["securitySchemes"]["BookingToken"]["scheme"] == "bearer"
    )


def test_docs_page_loads_nothing_from_a_cdn(client, db):
    page = client.get("/api/v1/docs").content.decode()

    assert "/static/ninja/swagger-ui-bundle.js" in page
    assert "cdn." not in page


def test_deposit_is_what_the_patient_pays_online(client, body, provider, now):
    Service.objects.filter(appointment_type__slug="consultation").update(
        deposit_amount=2000
    )

    listed = client.get("/api/v1/providers").json()[0]["services"][0]
    booked = post_booking(client, body).json()

    assert listed["deposit"] == {"amount": "20.00", "currency": "EUR"}
    assert (booked["price"], booked["due_online"]) == (
        {"amount": "80.00", "currency": "EUR"},
        {"amount": "20.00", "currency": "EUR"},
    )
    assert Booking.objects.get().payments.get().amount == 2000
