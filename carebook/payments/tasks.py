"""Jobs that talk to payment gateways."""

import logging

from huey.contrib.djhuey import db_task

from carebook.payments import services

logger = logging.getLogger(__name__)

# A gateway that is down for a while still gets the refund: retried every
# five minutes for about a day, with the same idempotency key each time.
REFUND_RETRIES = 288
REFUND_RETRY_SECONDS = 300


@db_task(retries=REFUND_RETRIES, retry_delay=REFUND_RETRY_SECONDS, context=True)
def submit_refund(refund_id: int, task=None) -> None:
    """Send one refund to its gateway; after the last retry, mark it failed."""
    try:
        services.submit_refund(refund_id)
    except Exception as error:
        if task is not None and task.retries == 0:
            services.give_up_refund(refund_id, error)
        raise
