"""The dashboard page, a provider's own figures, and the CSV exports."""

import csv
from io import StringIO

import pytest
import time_machine

from carebook.analytics.templatetags.figures import duration
from carebook.audit.models import AuditEntry
from carebook.bookings.models import Booking
from tests.analytics.conftest import NOW

RANGE = {"start": "2026-10-31", "end": "2026-11-02"}


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def rows_of(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(StringIO(text)))


def test_the_owner_sees_the_practice_figures(client, staff):
    client.force_login(staff["owner"])

    response = client.get("/staff/dashboard/", RANGE)

    assert response.status_code == 200
    figures = response.context["figures"]
    assert figures.bookings_made == 5
    assert figures.filter.provider_id is None
    page = response.content.decode()
    assert '<span class="value" id="bookings-made">5</span>' in page
    assert "$195.00" in page  # net revenue in the practice's locale
    assert "55.6%" in page  # payment success
    assert '<script src="/static/analytics/plotly.min.js" defer></script>' in page


def test_the_owner_narrows_to_one_provider_and_type(client, staff, clinic):
    client.force_login(staff["owner"])

    response = client.get(
        "/staff/dashboard/",
        {**RANGE, "provider": clinic.grace.pk, "appointment_type": "consultation"},
    )

    figures = response.context["figures"]
    assert (figures.filter.provider_id, figures.bookings_made) == (clinic.grace.pk, 2)


def test_without_a_range_the_last_30_local_days_are_shown(client, staff):
    client.force_login(staff["owner"])

    figures = client.get("/staff/dashboard/").context["figures"]

    assert (str(figures.filter.start), str(figures.filter.end)) == (
        "2026-10-04",
        "2026-11-02",
    )


def test_an_end_alone_shows_the_30_days_up_to_it(client, staff):
    client.force_login(staff["owner"])

    figures = client.get("/staff/dashboard/", {"end": "2025-01-01"}).context["figures"]

    assert (str(figures.filter.start), str(figures.filter.end)) == (
        "2024-12-03",
        "2025-01-01",
    )


def test_the_page_names_statuses_reasons_and_waits_in_words(client, staff):
    client.force_login(staff["owner"])

    page = client.get("/staff/dashboard/", RANGE).content.decode()

    assert "<caption>Appointments in the range, by status</caption>" in page
    assert '<th scope="col">No show</th>' in page
    assert '<th scope="row">card declined</th>' in page
    # Time to book: 450 s median, 1440 s at the 90th percentile.
    assert (
        '<span class="value">7 min 30 s</span><span class="detail">90th percentile '
        "24 min 00 s · 4 bookings</span>"
    ) in page
    assert "5 of 9 tries" in page
    assert "1 of 5 appointments" in page


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (None, "–"),
        (4.6, "4.6 s"),
        (59.94, "59.9 s"),
        (59.96, "1 min 00 s"),
        (450.0, "7 min 30 s"),
        (3725.0, "1 h 02 min"),
    ],
)
def test_waits_are_shown_to_a_tenth_of_a_second_under_a_minute(seconds, shown):
    assert duration(seconds) == shown


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"start": "2026-11-02", "end": "2026-10-31"}, "end", "The range must end"),
        ({"start": "yesterday", "end": "2026-11-02"}, "start", "Enter a valid date."),
        ({"start": "1999-12-31", "end": "2026-11-02"}, "start", "from 2000 to 2199"),
        # Month first or day first depends on the country: only YYYY-MM-DD.
        ({"start": "10/31/2026", "end": "2026-11-02"}, "start", "Enter a valid date."),
        ({**RANGE, "provider": "999999"}, "provider", "Select a valid choice."),
    ],
)
def test_a_bad_filter_answers_400_naming_the_field(
    client, staff, query, field, message
):
    client.force_login(staff["owner"])

    response = client.get("/staff/dashboard/", query)

    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert "figures" not in response.context


@pytest.mark.parametrize("user", ["desk", "ada", "outsider"])
@pytest.mark.parametrize(
    "address", ["/staff/dashboard/", "/staff/dashboard/export/summary.csv"]
)
def test_only_the_owner_gets_the_practice_dashboard_and_exports(
    client, staff, user, address
):
    client.force_login(staff[user])
    entries = AuditEntry.objects.count()

    response = client.get(address, RANGE)

    assert response.status_code == 403
    assert AuditEntry.objects.count() == entries


def test_someone_not_logged_in_is_sent_to_the_login(client, staff):
    response = client.get("/staff/dashboard/", RANGE)

    assert response.status_code == 302
    assert response["Location"] == (
        "/admin/login/?next=/staff/dashboard/%3Fstart%3D2026-10-31%26end%3D2026-11-02"
    )


def test_a_provider_sees_only_their_own_figures(client, staff, clinic):
    client.force_login(staff["ada"])

    response = client.get("/staff/my-figures/", {**RANGE, "provider": clinic.grace.pk})

    assert response.status_code == 200
    figures = response.context["figures"]
    assert figures.filter.provider_id == clinic.ada.pk
    assert [(row.name, row.bookings) for row in figures.providers] == [
        ("Dr Ada Lovelace", 3)
    ]
    page = response.content.decode()
    assert "Dr Grace Hopper" not in page
    assert "Export" not in page


def test_the_front_desk_has_no_figures(client, staff):
    client.force_login(staff["desk"])

    assert client.get("/staff/my-figures/", RANGE).status_code == 403


def test_the_owner_asking_for_own_figures_gets_the_dashboard(client, staff):
    client.force_login(staff["owner"])

    response = client.get("/staff/my-figures/")

    assert (response.status_code, response["Location"]) == (302, "/staff/dashboard/")


def test_the_per_day_export(client, staff):
    client.force_login(staff["owner"])

    response = client.get("/staff/dashboard/export/days.csv", RANGE)

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        'attachment; filename="carebook-days-2026-10-31-2026-11-02.csv"'
    )
    assert rows_of(response) == [
        [
            "day",
            "bookings_made",
            "appointments",
            "confirmed",
            "completed",
            "no_show",
            "cancelled",
        ],
        ["2026-10-31", "3", "1", "0", "1", "0", "0"],
        ["2026-11-01", "1", "2", "0", "0", "1", "1"],
        ["2026-11-02", "1", "2", "2", "0", "0", "0"],
    ]


def test_the_revenue_and_provider_exports(client, staff):
    client.force_login(staff["owner"])

    revenue = rows_of(client.get("/staff/dashboard/export/revenue.csv", RANGE))
    providers = rows_of(client.get("/staff/dashboard/export/providers.csv", RANGE))

    assert revenue == [
        ["day", "currency", "taken", "refunded", "net"],
        ["2026-10-31", "USD", "245.00", "0.00", "245.00"],
        ["2026-11-01", "USD", "125.00", "95.00", "30.00"],
        ["2026-11-02", "USD", "0.00", "80.00", "-80.00"],
    ]
    assert providers == [
        ["provider", "bookings", "currency", "net_revenue"],
        ["Dr Ada Lovelace", "3", "USD", "45.00"],
        ["Dr Grace Hopper", "2", "USD", "150.00"],
    ]


def test_the_summary_export(client, staff):
    client.force_login(staff["owner"])

    summary = dict(
        rows_of(client.get("/staff/dashboard/export/summary.csv", RANGE))[1:]
    )

    assert summary == {
        "from": "2026-10-31",
        "to": "2026-11-02",
        "bookings_made": "5",
        "checkouts_started": "8",
        "checkouts_completed": "5",
        "conversion_rate": "0.625",
        "net_revenue_USD": "195.00",
        "time_to_book_bookings": "4",
        "time_to_book_median_seconds": "450.0",
        "time_to_book_p90_seconds": "1440.0",
        "payment_attempts": "9",
        "payments_succeeded": "5",
        "payment_success_rate": "0.5556",
        "declined_card_declined": "2",
        "declined_expired_card": "1",
        "declined_insufficient_funds": "1",
        "appointments": "5",
        "cancelled": "1",
        "cancellation_rate": "0.2",
        "appointments_due": "3",
        "no_shows": "1",
        "no_show_rate": "0.3333",
    }


def test_the_bookings_export_lists_the_appointments_in_the_range(client, staff, clinic):
    client.force_login(staff["owner"])
    Booking.objects.filter(pk=clinic.bookings[4].pk).update(
        patient_name="=HYPERLINK(1)"
    )

    rows = rows_of(client.get("/staff/dashboard/export/bookings.csv", RANGE))

    assert rows[0][:4] == ["reference", "status", "start", "end"]
    assert [(row[0], row[1], row[2], row[8]) for row in rows[1:]] == [
        (
            clinic.bookings[1].reference,
            "completed",
            "2026-10-31T10:00:00-04:00",
            "Patient ada 311400",
        ),
        (
            clinic.bookings[4].reference,
            "no_show",
            "2026-11-01T01:30:00-04:00",
            "'=HYPERLINK(1)",
        ),
        (
            clinic.bookings[3].reference,
            "cancelled",
            "2026-11-01T11:00:00-05:00",
            "Patient grace 011600",
        ),
        (
            clinic.bookings[2].reference,
            "confirmed",
            "2026-11-02T09:00:00-05:00",
            "Patient ada 021400",
        ),
        (
            clinic.bookings[6].reference,
            "confirmed",
            "2026-11-02T13:00:00-05:00",
            "Patient ada 021800",
        ),
    ]


def test_an_unknown_export_is_404(client, staff):
    client.force_login(staff["owner"])

    assert client.get("/staff/dashboard/export/secrets.csv", RANGE).status_code == 404


def test_an_export_with_a_bad_range_is_400(client, staff):
    client.force_login(staff["owner"])

    response = client.get(
        "/staff/dashboard/export/days.csv", {"start": "2026-11-02", "end": "2026-10-01"}
    )

    assert response.status_code == 400
    assert response.content.decode() == (
        "end: The range must end on or after its start."
    )
