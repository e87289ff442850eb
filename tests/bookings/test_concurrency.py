"""No double booking, however many patients click at once (invariant 1).

These tests commit for real, from many threads each with its own database
connection, so they run the same race on SQLite and on PostgreSQL.
"""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client

from carebook.audit.models import AuditEntry
from carebook.audit.services import JOB
from carebook.bookings import services
from carebook.bookings.models import Booking
from carebook.payments.models import Payment, Refund
from tests.factories import make_booking

ATTEMPTS = 20
pytestmark = pytest.mark.django_db(transaction=True)


def race(requests: list[dict]) -> list[int]:
    """Post every booking request at the same moment; return the statuses."""
    barrier = threading.Barrier(len(requests))

    def post(body):
        try:
            client = Client()
            barrier.wait()
            return client.post(
                "/api/v1/bookings", body, content_type="application/json"
            ).status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(post, requests))


def request_for(provider, appointment_type: str, start: str, number: int) -> dict:
    return {
        "provider": provider.pk,
        "appointment_type": appointment_type,
        "start": start,
        "patient": {"name": f"Patient {number}", "email": f"p{number}@example.com"},
    }


def test_twenty_attempts_at_one_slot_make_exactly_one_booking(provider, now):
    requests = [
        request_for(provider, "consultation", "2026-12-07T11:00:00Z", n)
        for n in range(ATTEMPTS)
    ]

    statuses = race(requests)

    assert sorted(statuses) == [201] + [409] * (ATTEMPTS - 1)
    assert Booking.objects.count() == 1
    assert Booking.objects.get().start == datetime(2026, 12, 7, 11, 0, tzinfo=UTC)


def test_overlapping_attempts_with_different_starts_make_one_booking(provider, now):
    # Each of these overlaps every other once buffers count: a consultation
    # holds 40 minutes (30 and a 10 minute buffer), a follow-up 15.
    kinds = [
        ("consultation", "10:00"),
        ("consultation", "10:15"),
        ("consultation", "10:30"),
        ("follow-up", "10:30"),
    ]
    requests = [
        request_for(provider, kind, f"2026-12-07T{start}:00Z", n)
        for n, (kind, start) in enumerate(kinds * (ATTEMPTS // len(kinds)))
    ]

    statuses = race(requests)

    assert sorted(statuses) == [201] + [409] * (ATTEMPTS - 1)
    assert Booking.objects.count() == 1


def race_calls(calls: list) -> list:
    """Run every call at the same moment; return each result or exception."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        try:
            barrier.wait()
            return call()
        except Exception as error:
            return error
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def race_posts(posts: list[tuple[str, dict]]) -> list[int]:
    """Post every (address, form) at the same moment; return the statuses."""
    barrier = threading.Barrier(len(posts))

    def post(address_and_form):
        address, form = address_and_form
        try:
            client = Client()
            barrier.wait()
            return client.post(address, form).status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(posts)) as pool:
        return list(pool.map(post, posts))


def test_moves_of_one_booking_at_once_leave_one_booking(provider, consultation, now):
    booking = make_booking(
        provider, consultation, datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
    )
    address = f"/booking/{booking.token}/reschedule/"
    starts = [
        datetime(2026, 12, 9, 9, 0, tzinfo=UTC).replace(
            hour=9 + n // 4, minute=15 * (n % 4)
        )
        for n in range(12)
    ]
    moves = [
        (address, {"start": start.isoformat(), "timezone": "Europe/Dublin"})
        for start in starts
    ]

    statuses = race_posts(moves)

    moved = statuses.count(302)
    booking.refresh_from_db()
    assert Booking.objects.count() == 1
    assert booking.start in starts
    assert booking.sequence == moved
    assert statuses.count(302) + statuses.count(409) == len(starts)
    assert AuditEntry.objects.filter(action="booking.rescheduled").count() == moved


def test_two_bookings_moved_to_one_time_at_once_get_it_once(
    provider, consultation, now
):
    first = make_booking(
        provider, consultation, datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
    )
    second = make_booking(
        provider, consultation, datetime(2026, 12, 8, 11, 0, tzinfo=UTC)
    )
    target = {"start": "2026-12-09T10:00:00+00:00", "timezone": "Europe/Dublin"}
    moves = [
        (f"/booking/{booking.token}/reschedule/", target)
        for booking in (first, second) * (ATTEMPTS // 2)
    ]

    statuses = race_posts(moves)

    # One booking gets the time; its repeated moves there change nothing.
    assert sorted(statuses) == [302] * (ATTEMPTS // 2) + [409] * (ATTEMPTS // 2)
    [moved] = AuditEntry.objects.filter(action="booking.rescheduled")
    winner = Booking.objects.get(pk=moved.object_id)
    loser = Booking.objects.exclude(pk=winner.pk).get()
    assert (winner.start, winner.sequence) == (
        datetime(2026, 12, 9, 10, 0, tzinfo=UTC),
        1,
    )
    assert loser.start in (first.start, second.start)
    assert loser.sequence == 0


ROUNDS = 3
PAID_CARD = {"card_number": "4242 4242 4242 4242", "expiry": "12/30", "cvc": "123"}


def booked_through_the_api(provider, start: str, pay: bool = True) -> dict:
    client = Client()
    answer = client.post(
        "/api/v1/bookings",
        request_for(provider, "consultation", start, 0),
        content_type="application/json",
    ).json()
    if pay:
        client.post(answer["payment_url"], PAID_CARD)
    return answer


def test_a_cancel_and_moves_at_once_never_fail(provider, now, settings):
    settings.STRIPE_SECRET_KEY = ""
    for day in range(8, 8 + ROUNDS):
        answer = booked_through_the_api(provider, f"2026-12-{day:02}T09:00:00Z")
        link = f"/booking/{answer['token']}"
        moves = [
            (f"{link}/reschedule/", {"start": f"2026-12-{day:02}T{hour}:00:00+00:00"})
            for hour in (11, 14, 15)
        ]
        for _, form in moves:
            form["timezone"] = "Europe/Dublin"

        statuses = race_posts([(f"{link}/cancel/", {}), *moves])

        assert set(statuses) <= {302, 409}
        assert statuses[0] == 302
        booking = Booking.objects.get(reference=answer["reference"])
        assert booking.status == Booking.Status.CANCELLED
        assert list(
            Refund.objects.filter(payment__booking=booking).values_list(
                "amount", flat=True
            )
        ) == [8000]


def test_a_cancel_and_a_payment_at_once_never_fail(provider, now, settings):
    settings.STRIPE_SECRET_KEY = ""
    for day in range(8, 8 + ROUNDS):
        answer = booked_through_the_api(
            provider, f"2026-12-{day:02}T09:00:00Z", pay=False
        )

        statuses = race_posts(
            [
                (f"/booking/{answer['token']}/cancel/", {}),
                (answer["payment_url"], PAID_CARD),
            ]
        )

        booking = Booking.objects.get(reference=answer["reference"])
        assert booking.status == Booking.Status.CANCELLED
        refunds = list(
            Refund.objects.filter(payment__booking=booking).values_list(
                "amount", "reason"
            )
        )
        if statuses == [302, 302]:
            # Paid, then cancelled: the whole payment goes back, once.
            assert refunds == [(8000, "cancellation")]
        else:
            # Cancelled first: the card page had closed and took nothing.
            assert statuses == [302, 200]
            assert refunds == []
            assert booking.payments.get().status == "cancelled"


def test_paying_later_again_while_the_old_checkout_settles_never_fails(
    provider, consultation, now, settings
):
    settings.STRIPE_SECRET_KEY = ""
    for day in range(8, 8 + ROUNDS):
        held = services.book_slot(
            provider=provider,
            appointment_type=consultation,
            start=datetime(2026, 12, day, 9, 0, tzinfo=UTC),
            patient_timezone="Europe/Dublin",
            source=Booking.Source.STAFF,
            actor=JOB,
            patient=services.PatientDetails("Zoë", "zoe@example.ie"),
            payment_plan=Booking.PaymentPlan.LATER,
            return_url_for=lambda token: f"http://testserver/booking/{token}/",
        )
        old = services.start_later_payment(held.booking, "/", JOB)
        # An hour on, the patient presses "Pay online now" again just as
        # the old checkout's payment is reported.
        Payment.objects.filter(pk=old.pk).update(
            created_at=old.created_at - timedelta(hours=2)
        )

        results = race_calls(
            [
                lambda held=held: services.start_later_payment(held.booking, "/", JOB),
                lambda old=old: services.settle_payment(old.pk, "demo_old", JOB),
            ]
        )

        assert all(
            not isinstance(result, Exception) or isinstance(result, services.WrongState)
            for result in results
        ), results
        statuses = sorted(held.booking.payments.values_list("status", flat=True))
        # The old payment is taken; a new checkout, if one opened, is closed.
        assert statuses in (["succeeded"], ["cancelled", "succeeded"])
