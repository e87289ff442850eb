"""Signals the booking life cycle sends to the apps that build on it."""

from django.dispatch import Signal

# Sent inside the transaction of a change after which a provider may have
# free time that was not free before: a booking cancelled, moved, expired or
# released, or hours and time off changed. Arguments: `provider_id`.
time_freed = Signal()
