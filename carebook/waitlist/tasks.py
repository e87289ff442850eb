"""Background jobs of the waitlist."""

import logging
from functools import partial

from django.db import transaction
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from carebook.waitlist.models import WaitlistEntry, WaitlistOffer
from carebook.waitlist.services import end_past_entries, offer_free_times

logger = logging.getLogger(__name__)


def queue_offers(sender, provider_id: int, **kwargs) -> None:
    """Offer a provider's freed time to the waitlist once the change commits."""
    waiting = WaitlistEntry.objects.filter(
        provider_id=provider_id, status=WaitlistEntry.Status.WAITING
    )
    # A claim that goes unpaid puts its patient back in line at once too.
    offered = WaitlistOffer.objects.filter(
        entry__provider_id=provider_id,
        status__in=(WaitlistOffer.Status.OPEN, WaitlistOffer.Status.CLAIMED),
    )
    if waiting.exists() or offered.exists():
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
    waiting = WaitlistEntry.objects.filter(status=WaitlistEntry.Status.WAITING)
    offered_to = WaitlistOffer.objects.filter(
        status__in=(WaitlistOffer.Status.OPEN, WaitlistOffer.Status.CLAIMED)
    )
    providers = set(
        waiting.order_by().values_list("provider_id", flat=True).distinct()
    ) | set(
        offered_to.order_by().values_list("entry__provider_id", flat=True).distinct()
    )

    offered = 0
    for provider_id in sorted(providers):
        # One provider's trouble must not stop the others' offers.
        try:
            offered += offer_free_times(provider_id)
        except Exception:
            logger.exception("Waitlist sweep failed for provider %s", provider_id)
    if offered:
        logger.info("Waitlist sweep made %s offers", offered)
    return offered
