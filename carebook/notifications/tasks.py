"""Jobs that deliver the outbox."""

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from carebook.notifications.outbox import deliver, requeue_due_messages

logger = logging.getLogger(__name__)


@db_task()
def deliver_message(message_id: int) -> str:
    """Deliver one outbox message; the outbox itself decides on retries."""
    return deliver(message_id)


@db_periodic_task(crontab(minute="*"))
def requeue_due_messages_every_minute() -> int:
    """Hand the queue what it lost: due messages and abandoned sends."""
    count = requeue_due_messages()
    if count:
        logger.info("Requeued %s due outbox messages", count)
    return count
