"""Background jobs of the waitlist."""

import logging
from functools import partial

from django.db import transaction
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from carebook.waitlist.services import (
    end_past_entries,
    offer_free_times,
    providers_in_line,
)

logger = logging.getLogger(__name__)


def queue_offers(sender, provider_id: int, **kwargs) -> None:
    """Offer a provider's freed time to the waitlist once the change commits."""
    if providers_in_line(provider_id):
        # A queue that is down must not undo the change: the periodic sweep
        # makes the offer instead.
        transaction.on_commit(partial(offer_freed_time, provider_id), robust=True)


@db_task(retries=5, retry_delay=30)
def offer_freed_time(provider_id: int) -> int:
    """Offer the provider's free times to the patients in line."""
    return offer_free_times(provider_id)


@db_periodic_task(crontab(minute="*/5"))
def sweep_waitlist() -> int:
    """Make the offers a lost job missed, and end places whose days passed.

    Returns how many offers were made.
    """
    end_past_entries()
    offered = 0
    for provider_id in sorted(providers_in_line()):
        # One provider's trouble must not stop the others' offers.
        try:
            offered += offer_free_times(provider_id)
        except Exception:
            logger.exception("Waitlist sweep failed for provider %s", provider_id)
    if offered:
        logger.info("Waitlist sweep made %s offers", offered)
    return offered
