"""The dashboard's figures through the API, for staff programs with a token."""

import pytest
import time_machine

from carebook.staff.models import ApiToken
from carebook.staff.tokens import create_api_token
from tests.analytics.conftest import NOW

RANGE = {"start": "2026-10-31", "end": "2026-11-02"}
ADDRESS = "/api/v1/staff/dashboard"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def keys(staff):
    return {name: create_api_token(user, "reports")[1] for name, user in staff.items()}


def get(client, key, **query):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.get(ADDRESS, {**RANGE, **query}, headers=headers)


def test_the_owner_reads_every_figure(client, keys):
    response = get(client, keys["owner"])

    assert response.status_code == 200
    body = response.json()
    assert {key: body[key] for key in list(body)[:9]} == {
        "start": "2026-10-31",
        "end": "2026-11-02",
        "timezone": "America/New_York",
        "provider": None,
        "appointment_type": None,
        "bookings_made": 5,
        "checkouts_started": 8,
        "checkouts_completed": 5,
        "conversion_rate": 0.625,
    }
    assert body["days"][1] == {
        "day": "2026-11-01",
        "bookings_made": 1,
        "appointments": {"confirmed": 0, "completed": 0, "no_show": 1, "cancelled": 1},
    }
    assert body["revenue"][2] == {
        "day": "2026-11-02",
        "taken": {"amount": "0.00", "currency": "USD"},
        "refunded": {"amount": "80.00", "currency": "USD"},
        "net": {"amount": "-80.00", "currency": "USD"},
    }
    assert [
        (row["name"], row["bookings"], row["net_revenue"]) for row in body["providers"]
    ] == [
        ("Dr Ada Lovelace", 3, [{"amount": "45.00", "currency": "USD"}]),
        ("Dr Grace Hopper", 2, [{"amount": "150.00", "currency": "USD"}]),
    ]
    assert [(row["name"], row["share"]) for row in body["appointment_types"]] == [
        ("Consultation", 0.6),
        ("Follow-up", 0.4),
    ]
    assert body["time_to_book"] == {
        "bookings": 4,
        "median_seconds": 450.0,
        "p90_seconds": 1440.0,
    }
    assert body["payments"] == {
        "attempts": 9,
        "succeeded": 5,
        "success_rate": 0.5556,
        "declines": [
            {"reason": "card_declined", "count": 2},
            {"reason": "expired_card", "count": 1},
            {"reason": "insufficient_funds", "count": 1},
        ],
    }
    assert body["attendance"] == {
        "appointments": 5,
        "cancelled": 1,
        "cancellation_rate": 0.2,
        "due": 3,
        "no_shows": 1,
        "no_show_rate": 0.3333,
    }


def test_the_owner_narrows_by_provider_and_type(client, keys, clinic):
    body = get(
        client, keys["owner"], provider=clinic.grace.pk, appointment_type="consultation"
    ).json()

    assert (body["provider"], body["appointment_type"], body["bookings_made"]) == (
        clinic.grace.pk,
        "consultation",
        2,
    )


def test_a_provider_reads_only_their_own_figures(client, keys, clinic):
    own = get(client, keys["ada"])
    other = get(client, keys["ada"], provider=clinic.grace.pk)

    assert (own.status_code, own.json()["provider"]) == (200, clinic.ada.pk)
    assert own.json()["bookings_made"] == 3
    assert (other.status_code, other.json()) == (
        403,
        {"detail": "A provider sees only their own figures."},
    )


@pytest.mark.parametrize("user", ["desk", "outsider"])
def test_front_desk_and_outsider_tokens_are_refused(client, keys, user):
    response = get(client, keys[user])

    assert response.status_code == 403


@pytest.mark.parametrize("key", [None, "cbk_not-a-real-key", ""])
def test_no_token_or_a_wrong_one_is_401(client, keys, key):
    assert get(client, key).status_code == 401


def test_a_deleted_token_stops_working(client, keys, staff):
    ApiToken.objects.filter(user=staff["owner"]).delete()

    assert get(client, keys["owner"]).status_code == 401


def test_a_token_of_a_deactivated_user_stops_working(client, keys, staff):
    staff["owner"].is_active = False
    staff["owner"].save()

    assert get(client, keys["owner"]).status_code == 401


def test_using_a_token_notes_when(client, keys, staff):
    get(client, keys["owner"])

    assert ApiToken.objects.get(user=staff["owner"]).last_used_at == NOW


def test_only_the_key_hash_is_stored(keys, staff):
    token = ApiToken.objects.get(user=staff["owner"])

    assert keys["owner"] not in (token.key_hash, token.prefix, token.name)
    assert keys["owner"].startswith("cbk_" + token.prefix)


@pytest.mark.parametrize(
    ("query", "location", "message"),
    [
        (
            {"start": "2026-11-02", "end": "2026-10-01"},
            "end",
            "The range must end on or after its start.",
        ),
        (
            {"start": "2026-02-30"},
            "start",
            "Input should be a valid date or datetime, "
            "day value is outside expected range",
        ),
        (
            {"appointment_type": "massage"},
            "appointment_type",
            "Select a valid choice. That choice is not one of the available choices.",
        ),
    ],
)
def test_bad_query_answers_422_naming_the_field(client, keys, query, location, message):
    response = get(client, keys["owner"], **query)

    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert (error["loc"], error["msg"]) == (["query", location], message)
