"""Jobs that talk to payment gateways."""

from huey.contrib.djhuey import db_task

from carebook.payments import services

# A gateway that is down for a while still gets the refund: retried every
# five minutes for about a day, with the same idempotency key each time.
REFUND_RETRIES = 288
REFUND_RETRY_SECONDS = 300


@db_task(retries=REFUND_RETRIES, retry_delay=REFUND_RETRY_SECONDS)
def submit_refund(refund_id: int) -> None:
    """Send one refund to its gateway."""
    services.submit_refund(refund_id)
