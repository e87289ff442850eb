"""A headless Chromium for the browser tests, and a provider always at work.

The browser is Debian's Chromium driven through Playwright; set
CAREBOOK_CHROMIUM to use another build. Playwright's own browser downloads
are never used.
"""

import os
from datetime import time

import pytest
from playwright.sync_api import sync_playwright

from carebook.practice.models import Provider, Service, WeeklyHours

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE_VIEWPORT = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def chromium():
    """Launch one headless Chromium for the tests of one module.

    Playwright's sync API keeps an asyncio loop registered as running in this
    thread, and Django then refuses ORM calls from it. The calls are safe: the
    loop only runs while a Playwright call blocks, never beside the ORM.
    """
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(
            executable_path=os.environ.get("CAREBOOK_CHROMIUM", "/usr/bin/chromium"),
            headless=True,
            args=CHROMIUM_ARGS,
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    """Open a fresh phone-sized tab in the practice's time zone.

    The zone matches the practice's, so the slot picker does not switch zones
    on its own while the test is clicking.
    """
    context = chromium.new_context(
        viewport=PHONE_VIEWPORT, timezone_id="Europe/Dublin", locale="en-IE"
    )
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def round_the_clock_provider(practice, consultation):
    """Return a provider who works all day, every day, so a slot always exists.

    Hours from 00:00 to 00:00 run through midnight into the next day.
    """
    provider = Provider.objects.create(
        practice=practice,
        slug="rowan-byrne",
        name="Dr Rowan Byrne",
        specialty="Out-of-hours care",
    )
    for weekday in range(7):
        WeeklyHours.objects.create(
            provider=provider, weekday=weekday, start_time=time(0), end_time=time(0)
        )
    Service.objects.create(
        provider=provider, appointment_type=consultation, price_amount=8000
    )
    return provider
