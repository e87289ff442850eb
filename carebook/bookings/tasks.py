"""Background jobs of the booking life cycle."""

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from carebook.bookings.services import expire_lapsed_holds

logger = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="*"))
def expire_lapsed_holds_every_minute() -> int:
    """Free the slots of holds whose time ran out; return how many."""
    expired = expire_lapsed_holds()
    if expired:
        logger.info("Expired %s lapsed holds", expired)
    return expired
