"""API tokens for staff programs: made once, stored hashed, revoked by deleting."""

import secrets
from datetime import timedelta

from django.utils import timezone

from carebook.staff.models import ApiToken, hash_api_key

KEY_PREFIX = "cbk_"
# Note a token's use at most this often, so reads stay reads.
USE_RECORDING_INTERVAL = timedelta(minutes=5)


def create_api_token(user, name: str) -> tuple[ApiToken, str]:
    """Make a token for `user`; return it with its key, shown only now."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        key_hash=hash_api_key(key),
        prefix=key[len(KEY_PREFIX) : len(KEY_PREFIX) + 8],
    )
    return token, key


def find_api_token_user(key: str):
    """Return the active user a key belongs to, or None; note the use."""
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=hash_api_key(key), user__is_active=True)
        .first()
    )
    if token is None:
        return None

    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > USE_RECORDING_INTERVAL:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
