"""Patients wait in line for a time, and freed times go to them in order.

Dr Ada Lovelace works only 10:00–10:30 on Tuesday 8 December, so that day
has one consultation at 10:00, booked by another patient. "Now" is Monday
7 December 08:00 (Dublin is on UTC in winter); a claim lasts 60 minutes.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, transaction
from django.test import Client

from carebook.analytics.figures import compute_figures
from carebook.analytics.filters import FigureFilter
from carebook.audit.models import AuditEntry
from carebook.audit.services import JOB, PATIENT, WEBHOOK
from carebook.bookings.models import Booking
from carebook.bookings.services import (
    cancel_booking,
    expire_lapsed_holds,
    settle_payment,
)
from carebook.notifications.models import OutboxMessage
from carebook.practice.models import AppointmentType, DateOverride
from carebook.waitlist import services as waitlist_services
from carebook.waitlist.models import WaitlistEntry, WaitlistOffer
from carebook.waitlist.services import (
    end_past_entries,
    find_entry_by_token,
    offer_free_times,
    settle_offers,
)
from carebook.waitlist.tasks import sweep_waitlist
from tests.conftest import MONDAY_MORNING
from tests.factories import make_booking

TUESDAY_TEN = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
CLAIM_ENDS = MONDAY_MORNING + timedelta(minutes=60)


@pytest.fixture
def taken_tuesday(provider, consultation, now, settings):
    """Leave Ada one consultation on Tuesday, booked by someone else."""
    settings.CAREBOOK_WAITLIST_CLAIM_MINUTES = 60
    settings.CAREBOOK_BASE_URL = "http://testserver"
    settings.STRIPE_SECRET_KEY = ""
    DateOverride.objects.create(
        provider=provider,
        date=date(2026, 12, 8),
        start_time=time(10),
        end_time=time(10, 30),
    )
    return make_booking(
        provider,
        consultation,
        TUESDAY_TEN,
        patient_name="Ciarán Ó Dálaigh",
        patient_email="ciaran@example.ie",
    )


def join(client, provider, name, email, first="2026-12-08", last="2026-12-08"):
    return client.post(
        f"/waitlist/join/{provider.pk}/consultation/",
        {
            "first_day": first,
            "last_day": last,
            "name": name,
            "email": email,
            "phone": "",
            "timezone": "Europe/Dublin",
        },
    )


def token_of(response) -> str:
    return response["Location"].split("/")[2]


@pytest.fixture
def line(client, provider, taken_tuesday, django_capture_on_commit_callbacks):
    """Zoë joins the line first, then Aoife."""
    with django_capture_on_commit_callbacks(execute=True):
        zoe = join(client, provider, "Zoë Ní Bhriain", "zoe@example.ie")
        aoife = join(Client(), provider, "Aoife Byrne", "aoife@example.ie")
    assert (zoe.status_code, aoife.status_code) == (302, 302)
    return {"zoe": token_of(zoe), "aoife": token_of(aoife)}


def free_the_tuesday(taken_tuesday, django_capture_on_commit_callbacks, jobs):
    with django_capture_on_commit_callbacks(execute=True):
        cancel_booking(taken_tuesday, PATIENT)
    jobs.run()


def offers():
    return list(
        WaitlistOffer.objects.order_by("offered_at", "id").values_list(
            "entry__patient_email", "status", "start", "expires_at"
        )
    )


def offer_emails():
    return list(
        OutboxMessage.objects.filter(template="waitlist_offer")
        .order_by("id")
        .values_list("recipient", "subject")
    )


def claim_link(recipient) -> str:
    body = OutboxMessage.objects.get(
        template="waitlist_offer", recipient=recipient
    ).body_text
    [link] = [line for line in body.splitlines() if "/waitlist/offer/" in line]
    return link.removeprefix("http://testserver")


def test_joining_while_free_times_remain_is_refused(client, provider, now):
    response = join(client, provider, "Zoë Ní Bhriain", "zoe@example.ie")

    assert response.status_code == 422
    assert (
        "There are still free times on these days: please book one of them."
        in response.content.decode()
    )
    assert WaitlistEntry.objects.count() == 0


@pytest.mark.parametrize(
    ("first", "last", "field", "message"),
    [
        ("2026-12-06", "2026-12-08", "first_day", "This day has passed."),
        (
            "2026-12-09",
            "2026-12-08",
            "last_day",
            "The last day comes before the first.",
        ),
        (
            "2026-12-08",
            "2027-02-06",
            "last_day",
            "Bookings open only up to 5 February 2027.",
        ),
        ("2026-12-08", "next week", "last_day", "Enter a valid date."),
    ],
)
def test_bad_days_get_a_field_error_and_no_place(
    client, provider, taken_tuesday, first, last, field, message
):
    response = join(client, provider, "Zoë", "zoe@example.ie", first, last)

    assert response.status_code == 422
    assert response.context["form"].errors[field] == [message]
    assert WaitlistEntry.objects.count() == 0


def test_joining_confirms_the_place_by_email_with_a_link_to_leave(
    client, provider, line
):
    [email] = OutboxMessage.objects.filter(template="waitlist_joined").filter(
        recipient="zoe@example.ie"
    )

    assert email.subject == "You are on the waitlist for Dr Ada Lovelace"
    assert f"http://testserver/waitlist/{line['zoe']}/" in email.body_text
    assert "on Tuesday 8 December 2026 (Europe/Dublin)" in email.body_text
    page = client.get(f"/waitlist/{line['zoe']}/")
    assert page.status_code == 200
    assert "You are on the waitlist" in page.content.decode()


def test_a_freed_time_goes_to_the_first_in_line_and_then_to_the_next(
    client, line, taken_tuesday, now, jobs, django_capture_on_commit_callbacks
):
    free_the_tuesday(taken_tuesday, django_capture_on_commit_callbacks, jobs)

    assert offers() == [("zoe@example.ie", "open", TUESDAY_TEN, CLAIM_ENDS)]
    assert offer_emails() == [
        (
            "zoe@example.ie",
            "A time with Dr Ada Lovelace has come free: Tuesday 8 December 2026, 10:00",
        )
    ]
    held = WaitlistOffer.objects.get().booking
    assert (held.status, held.hold_expires_at, held.source) == (
        "held",
        CLAIM_ENDS,
        "waitlist",
    )

    # Zoë lets the claim window pass; the time goes to Aoife.
    now.move_to(CLAIM_ENDS)
    with django_capture_on_commit_callbacks(execute=True):
        expire_lapsed_holds()
    jobs.run()

    assert offers() == [
        ("zoe@example.ie", "lapsed", TUESDAY_TEN, CLAIM_ENDS),
        (
            "aoife@example.ie",
            "open",
            TUESDAY_TEN,
            CLAIM_ENDS + timedelta(minutes=60),
        ),
    ]
    assert [recipient for recipient, _ in offer_emails()] == [
        "zoe@example.ie",
        "aoife@example.ie",
    ]


def test_the_claim_link_books_the_time_and_goes_to_payment(
    client, line, taken_tuesday, now, jobs, django_capture_on_commit_callbacks
):
    free_the_tuesday(taken_tuesday, django_capture_on_commit_callbacks, jobs)
    link = claim_link("zoe@example.ie")

    shown = client.get(link)
    response = client.post(link, {"choice": "book"})

    assert "We are holding this time for you until Monday 7 December 2026, 09:00" in (
        shown.content.decode()
    )
    booking = WaitlistOffer.objects.get().booking
    payment = booking.payments.get()
    assert (response.status_code, response["Location"]) == (
        302,
        f"/pay/demo/{payment.checkout_token}/",
    )
    assert (booking.status, booking.patient_name, booking.price_amount) == (
        "pending_payment",
        "Zoë Ní Bhriain",
        8000,
    )
    entry = find_entry_by_token(line["zoe"])
    assert (entry.status, WaitlistOffer.objects.get().status) == ("booked", "claimed")


def test_a_get_on_the_claim_link_changes_nothing(
    client, line, taken_tuesday, now, jobs, django_capture_on_commit_callbacks
):
    free_the_tuesday(taken_tuesday, django_capture_on_commit_callbacks, jobs)
    entries = AuditEntry.objects.count()

    for _ in range(3):
        client.get(claim_link("zoe@example.ie"))

    assert WaitlistOffer.objects.get().booking.status == "held"
    assert AuditEntry.objects.count() == entries


def test_a_claim_after_the_window_is_refused_and_books_nothing(
    client, line, taken_tuesday, now, jobs, django_capture_on_commit_callbacks
):
    free_the_tuesday(taken_tuesday, django_capture_on_commit_callbacks, jobs)
    link = claim_link("zoe@example.ie")
    now.move_to(CLAIM_ENDS)

    response = client.post(link, {"choice": "book"})

    assert response.status_code == 409
    assert "This time is no longer held for you." in response.content.decode()
    assert WaitlistOffer.objects.get().booking.status == "held"
    assert find_entry_by_token(line["zoe"]).status == "waiting"


def test_declining_offers_the_time_to_the_next_at_once(
    client, line, taken_tuesday, now, jobs, django_capture_on_commit_callbacks
):
    free_the_tuesday(taken_tuesday, django_capture_on_commit_callbacks, jobs)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(claim_link("zoe@example.ie"), {"choice": "decline"})
    jobs.run()

    assert (response.status_code, response["Location"]) == (
        302,
        f"/waitlist/{line['zoe']}/",
    )
    assert [(email, status) for email, status, _, _ in offers()] == [
        ("zoe@example.ie", "declined"),
        ("aoife@example.ie", "open"),
    ]
    # Zoë stays in line, but is not offered the time she gave up again.
    assert find_entry_by_token(line["zoe"]).status == "waiting"


def test_leaving_the_line_gives_up_the_held_time(
    client, line, taken_tuesday, now, jobs, django_capture_on_commit_callbacks
):
    free_the_tuesday(taken_tuesday, django_capture_on_commit_callbacks, jobs)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/waitlist/{line['zoe']}/")
    jobs.run()

    assert find_entry_by_token(line["zoe"]).status == "left"
    assert [(email, status) for email, status, _, _ in offers()] == [
        ("zoe@example.ie", "declined"),
        ("aoife@example.ie", "open"),
    ]
    assert (
        "You left the waitlist"
        in client.get(f"/waitlist/{line['zoe']}/").content.decode()
    )


def test_offering_twice_holds_the_time_once(
    line, taken_tuesday, provider, now, jobs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        cancel_booking(taken_tuesday, PATIENT)

    made = [offer_free_times(provider.pk), offer_free_times(provider.pk)]

    assert made == [1, 0]
    assert Booking.objects.filter(status="held").count() == 1
    assert len(offers()) == 1


def test_a_place_ends_when_its_last_day_has_passed(line, now):
    now.move_to(datetime(2026, 12, 9, 0, 0, tzinfo=UTC))

    assert end_past_entries() == 2
    assert list(WaitlistEntry.objects.values_list("status", flat=True)) == [
        "ended",
        "ended",
    ]
    assert AuditEntry.objects.filter(action="waitlist.ended").count() == 2


def test_a_place_in_a_zone_ahead_of_utc_ends_at_its_own_midnight(line, now):
    WaitlistEntry.objects.update(patient_timezone="Pacific/Auckland")
    # 8 December has ended in Auckland (UTC+13) at 11:00 UTC that day.
    now.move_to(datetime(2026, 12, 8, 11, 0, tzinfo=UTC))

    assert end_past_entries() == 2


def test_a_wrong_token_finds_nothing(client, line):
    assert client.get("/waitlist/not-a-token/").status_code == 404
    assert client.get("/waitlist/offer/not-a-token/").status_code == 404
    assert (
        client.post("/waitlist/offer/not-a-token/", {"choice": "book"}).status_code
        == 404
    )


def test_the_offer_email_names_no_appointment_type(
    line, taken_tuesday, now, jobs, django_capture_on_commit_callbacks
):
    free_the_tuesday(taken_tuesday, django_capture_on_commit_callbacks, jobs)
    email = OutboxMessage.objects.get(template="waitlist_offer")

    assert "Consultation" not in email.body_text + email.body_html + email.subject
    assert "Held for you until: Monday 7 December 2026, 09:00 (Europe/Dublin)" in (
        email.body_text
    )


def test_offers_are_audited_as_the_job(
    line, taken_tuesday, now, jobs, django_capture_on_commit_callbacks
):
    free_the_tuesday(taken_tuesday, django_capture_on_commit_callbacks, jobs)

    entry = find_entry_by_token(line["zoe"])
    [offered] = AuditEntry.objects.filter(action="waitlist.offered")
    assert (offered.actor_kind, offered.object_id, offered.changes["start"]) == (
        JOB.kind,
        str(entry.pk),
        "2026-12-08T10:00:00+00:00",
    )


def test_the_offer_email_is_in_the_patients_language(
    line, taken_tuesday, now, jobs, django_capture_on_commit_callbacks
):
    WaitlistEntry.objects.filter(patient_email="zoe@example.ie").update(
        patient_language="de", patient_timezone="Europe/Berlin"
    )

    free_the_tuesday(taken_tuesday, django_capture_on_commit_callbacks, jobs)

    email = OutboxMessage.objects.get(template="waitlist_offer")
    assert email.subject == (
        "Eine Zeit bei Dr Ada Lovelace ist frei geworden: "
        "Dienstag, 8. Dezember 2026, 11:00 Uhr"
    )
    assert "Für Sie frei bis: Montag, 7. Dezember 2026, 10:00 Uhr (Europe/Berlin)" in (
        email.body_text
    )


def test_the_details_page_of_a_held_offer_leads_to_the_offer(
    client, line, taken_tuesday, now, jobs, django_capture_on_commit_callbacks
):
    free_the_tuesday(taken_tuesday, django_capture_on_commit_callbacks, jobs)
    token = claim_link("zoe@example.ie").split("/")[3]

    shown = client.get(f"/booking/{token}/details/")
    posted = client.post(
        f"/booking/{token}/details/", {"name": "Zoë", "email": "zoe@example.ie"}
    )

    assert (shown["Location"], posted["Location"]) == (
        f"/waitlist/offer/{token}/",
        f"/waitlist/offer/{token}/",
    )
    assert WaitlistOffer.objects.get().booking.status == "held"
    assert (
        "See the time held for you" in client.get(f"/booking/{token}/").content.decode()
    )


def test_one_address_waits_once_for_a_provider_and_type(client, provider, line):
    response = join(client, provider, "Zoë again", "ZOE@example.ie")

    assert response.status_code == 422
    assert response.context["form"].errors["email"] == [
        "This email address is already on this waitlist; its link in the email "
        "lets you leave it, and then join for other days."
    ]
    assert WaitlistEntry.objects.count() == 2


def test_the_database_refuses_a_second_place_for_one_address(line):
    first = WaitlistEntry.objects.get(patient_email="zoe@example.ie")

    with pytest.raises(IntegrityError), transaction.atomic():
        WaitlistEntry.objects.create(
            provider=first.provider,
            appointment_type=first.appointment_type,
            first_day=first.first_day,
            last_day=first.last_day,
            patient_name="Zoë",
            patient_email="Zoe@Example.ie",
            email_key=first.email_key,
            patient_timezone="Europe/Dublin",
            token_hash="z" * 64,
            token_salt="z",
            joined_at=MONDAY_MORNING,
        )


def test_days_the_provider_does_not_work_are_refused(client, provider, now):
    # Saturday and Sunday: Ada works weekdays only.
    response = join(
        client, provider, "Zoë", "zoe@example.ie", "2026-12-12", "2026-12-13"
    )

    assert response.status_code == 422
    assert response.context["form"].non_field_errors() == [
        "No time can come free on these days: Dr Ada Lovelace does not see "
        "patients then, or they are too soon to book. Please choose other days."
    ]
    assert WaitlistEntry.objects.count() == 0


def test_a_bad_zone_on_the_join_form_is_a_field_error(client, provider, now):
    response = client.post(
        f"/waitlist/join/{provider.pk}/consultation/",
        {
            "first_day": "2026-12-08",
            "last_day": "2026-12-08",
            "name": "Zoë",
            "email": "zoe@example.ie",
            "timezone": "Not/AZone",
        },
    )

    assert response.status_code == 422
    assert response.context["form"].errors["timezone"] == ["Unknown time zone."]
    assert "Timezone: Unknown time zone." in response.content.decode()


def test_the_join_form_suggests_the_week_the_patient_was_looking_at(
    client, provider, now
):
    page = client.get(
        f"/waitlist/join/{provider.pk}/consultation/",
        {"tz": "Europe/Dublin", "from": "2026-12-14"},
    )

    form = page.context["form"]
    assert (form["first_day"].value(), form["last_day"].value()) == (
        date(2026, 12, 14),
        date(2026, 12, 20),
    )


def test_a_place_for_a_type_no_longer_offered_is_passed_over(
    client, provider, consultation, taken_tuesday, line, now
):
    # Zoë, first in line, waits for a follow-up, which Ada stopped offering.
    follow_up = AppointmentType.objects.get(slug="follow-up")
    WaitlistEntry.objects.filter(patient_email="zoe@example.ie").update(
        appointment_type=follow_up
    )
    provider.services.filter(appointment_type=follow_up).delete()
    cancel_booking(taken_tuesday, PATIENT)

    assert offer_free_times(provider.pk) == 1
    assert [email for email, *_ in offers()] == ["aoife@example.ie"]


def test_an_inactive_provider_makes_no_offers(provider, taken_tuesday, line, now):
    cancel_booking(taken_tuesday, PATIENT)
    provider.is_active = False
    provider.save(update_fields=["is_active"])

    assert offer_free_times(provider.pk) == 0
    assert offers() == []


def test_a_patient_who_leaves_while_the_job_runs_gets_no_offer(
    provider, taken_tuesday, line, now, monkeypatch
):
    cancel_booking(taken_tuesday, PATIENT)
    original = waitlist_services.find_free_slots
    zoe = find_entry_by_token(line["zoe"])

    def leave_meanwhile(*args, **kwargs):
        # Zoë presses "Leave the waitlist" while the job looks for times.
        if WaitlistEntry.objects.get(pk=zoe.pk).status == "waiting":
            waitlist_services.leave_waitlist(zoe, PATIENT)
        return original(*args, **kwargs)

    monkeypatch.setattr(waitlist_services, "find_free_slots", leave_meanwhile)

    assert offer_free_times(provider.pk) == 1
    assert [(email, status) for email, status, *_ in offers()] == [
        ("aoife@example.ie", "open")
    ]


def test_a_place_that_ends_closes_its_open_offer(
    provider, taken_tuesday, line, now, jobs, django_capture_on_commit_callbacks
):
    free_the_tuesday(taken_tuesday, django_capture_on_commit_callbacks, jobs)
    # No job ran until after the last day.
    now.move_to(datetime(2026, 12, 9, 0, 5, tzinfo=UTC))

    with django_capture_on_commit_callbacks(execute=True):
        sweep_waitlist.call_local()

    assert [(email, status) for email, status, *_ in offers()] == [
        ("zoe@example.ie", "lapsed")
    ]
    assert WaitlistOffer.objects.get().booking.status == "expired"
    assert list(WaitlistEntry.objects.values_list("status", flat=True)) == [
        "ended",
        "ended",
    ]


def test_a_claim_left_unpaid_puts_the_patient_back_in_line(
    client, provider, taken_tuesday, line, now, jobs, django_capture_on_commit_callbacks
):
    free_the_tuesday(taken_tuesday, django_capture_on_commit_callbacks, jobs)
    client.post(claim_link("zoe@example.ie"), {"choice": "book"})
    # The card page closes 30 minutes later, unpaid.
    now.move_to(MONDAY_MORNING + timedelta(minutes=31))

    with django_capture_on_commit_callbacks(execute=True):
        expire_lapsed_holds()
    jobs.run()

    assert find_entry_by_token(line["zoe"]).status == "waiting"
    assert [(email, status) for email, status, *_ in offers()] == [
        ("zoe@example.ie", "lapsed"),
        ("aoife@example.ie", "open"),
    ]


def test_offers_count_as_checkouts_only_once_claimed(
    client, provider, taken_tuesday, line, now, jobs, django_capture_on_commit_callbacks
):
    taken_tuesday.delete()
    DateOverride.objects.update(end_time=time(11, 15))
    # Two times free: Zoë claims hers, Aoife lets hers lapse.
    assert offer_free_times(provider.pk) == 2
    client.post(claim_link("zoe@example.ie"), {"choice": "book"})
    now.move_to(CLAIM_ENDS)
    expire_lapsed_holds()

    figures = compute_figures(
        FigureFilter(date(2026, 12, 7), date(2026, 12, 7), ZoneInfo("Europe/Dublin"))
    )

    assert (figures.checkouts_started, figures.checkouts_completed) == (1, 0)


def test_joining_again_while_a_claim_waits_for_payment_keeps_the_line_moving(
    client, provider, taken_tuesday, line, now, jobs, django_capture_on_commit_callbacks
):
    free_the_tuesday(taken_tuesday, django_capture_on_commit_callbacks, jobs)
    client.post(claim_link("zoe@example.ie"), {"choice": "book"})
    # Zoë, her claim not paid yet, joins again for the same Tuesday.
    again = join(Client(), provider, "Zoë Ní Bhriain", "zoe@example.ie")
    assert again.status_code == 302
    now.move_to(MONDAY_MORNING + timedelta(minutes=31))

    with django_capture_on_commit_callbacks(execute=True):
        expire_lapsed_holds()
    jobs.run()

    first = find_entry_by_token(line["zoe"])
    assert first.status == "ended"
    assert [(email, status) for email, status, *_ in offers()] == [
        ("zoe@example.ie", "lapsed"),
        ("aoife@example.ie", "open"),
    ]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("zoe@éxample.ie", "ZOE@ÉXAMPLE.IE"),
        ("zoe@éxample.ie", "zoe@xn--xample-9ua.ie"),
        (" zoe@example.ie", "Zoe@Example.ie"),
    ],
)
def test_one_address_in_any_spelling_waits_once(
    client, provider, taken_tuesday, now, first, second
):
    joined = join(client, provider, "Zoë", first)
    again = join(Client(), provider, "Zoë", second)

    assert (joined.status_code, again.status_code) == (302, 422)
    assert WaitlistEntry.objects.count() == 1


def test_a_claim_paid_late_after_all_books_the_patient(
    client, provider, taken_tuesday, line, now, jobs, django_capture_on_commit_callbacks
):
    free_the_tuesday(taken_tuesday, django_capture_on_commit_callbacks, jobs)
    client.post(claim_link("zoe@example.ie"), {"choice": "book"})
    booking = WaitlistOffer.objects.get().booking
    now.move_to(MONDAY_MORNING + timedelta(minutes=31))
    with django_capture_on_commit_callbacks(execute=True):
        expire_lapsed_holds()
    # The card processor reports the payment only now; the time is still
    # held by nobody else, as Aoife has not claimed it.
    WaitlistOffer.objects.filter(entry__patient_email="aoife@example.ie").delete()
    Booking.objects.filter(status="held").update(status="expired")
    with django_capture_on_commit_callbacks(execute=True):
        settle_payment(booking.payments.get().pk, "demo_late", WEBHOOK)

    settle_offers(provider.pk)

    booking.refresh_from_db()
    assert booking.status == "confirmed"
    assert find_entry_by_token(line["zoe"]).status == "booked"
    assert WaitlistOffer.objects.get(booking=booking).status == "claimed"


@pytest.mark.parametrize(
    ("looked_at", "first_day"),
    [
        # Beyond the 60-day horizon: its last day.
        ("2030-01-01", date(2027, 2, 5)),
        # Before today, or no date Carebook books: today.
        ("2026-01-01", date(2026, 12, 7)),
        ("9999-12-31", date(2026, 12, 7)),
    ],
)
def test_the_join_form_suggests_days_that_can_be_booked(
    client, provider, now, looked_at, first_day
):
    page = client.get(
        f"/waitlist/join/{provider.pk}/consultation/", {"from": looked_at}
    )

    assert page.status_code == 200
    assert page.context["form"]["first_day"].value() == first_day
