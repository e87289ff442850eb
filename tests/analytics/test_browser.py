"""The owner opens the dashboard in Chromium; other staff are refused it."""

# The browser fixtures are imported, so tests naming them redefine them.
# ruff: noqa: F811

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import chromium, page  # noqa: F401 (fixtures)

PASSWORD = "correct horse battery staple"
RANGE = "?start=2026-10-31&end=2026-11-02"


def log_in(page, live_server, username):
    page.goto(live_server.url + "/admin/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Site administration")


@pytest.fixture
def passwords(staff):
    for user in staff.values():
        user.set_password(PASSWORD)
        user.save()
    return staff


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_owner_reads_the_dashboard_with_its_charts(page, live_server, passwords):
    log_in(page, live_server, "owner")

    page.goto(live_server.url + "/staff/dashboard/" + RANGE)

    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    expect(page.locator("#bookings-made")).to_have_text("5")
    # plotly.js, served by Carebook itself, drew every chart.
    for chart in ("days", "revenue", "providers-bookings", "types", "declines"):
        expect(page.locator(f"#chart-{chart} svg.main-svg").first).to_be_visible()
    rows = page.locator("#provider-table tbody tr")
    expect(rows.nth(0).locator("th, td")).to_have_text(
        ["Dr Ada Lovelace", "3", "$45.00"]
    )
    expect(rows.nth(1).locator("th, td")).to_have_text(
        ["Dr Grace Hopper", "2", "$150.00"]
    )

    with page.expect_download() as download:
        page.get_by_role("link", name="Revenue per day").click()
    assert download.value.suggested_filename == (
        "carebook-revenue-2026-10-31-2026-11-02.csv"
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("username", ["desk", "ada"])
def test_front_desk_and_providers_are_refused_the_dashboard_and_export(
    page,
    live_server,
    passwords,
    username,
):
    log_in(page, live_server, username)

    dashboard = page.goto(live_server.url + "/staff/dashboard/" + RANGE)
    export = page.request.get(
        live_server.url + "/staff/dashboard/export/bookings.csv" + RANGE
    )

    assert dashboard.status == 403
    expect(page.locator("body")).not_to_contain_text("Bookings made")
    assert export.status == 403
    assert "reference" not in export.text()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_one_day_range_charts_that_one_day(page, live_server, passwords):
    log_in(page, live_server, "owner")

    page.goto(live_server.url + "/staff/dashboard/?start=2026-10-31&end=2026-10-31")

    for chart in ("days", "revenue"):
        expect(page.locator(f"#chart-{chart} .xtick text")).to_have_text(["2026-10-31"])
    # Saturday's declines: 2, 1 and 1 tries, counted in whole numbers.
    expect(page.locator("#chart-declines .xtick text")).to_have_text(["0", "1", "2"])
