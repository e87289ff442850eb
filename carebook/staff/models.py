"""Staff members' roles, and the tokens they reach the API with."""

import hashlib

from django.conf import settings
from django.db import models

from carebook.practice.models import Provider


def hash_api_key(key: str) -> str:
    """Return the stored form of an API token's secret key."""
    return hashlib.sha256(key.encode()).hexdigest()


class Role(models.TextChoices):
    OWNER = "owner"
    FRONT_DESK = "front_desk", "front desk"
    PROVIDER = "provider"


class StaffMember(models.Model):
    """The role a staff user has, and the provider a provider user is."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="staff_member",
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    provider = models.OneToOneField(
        Provider,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="staff_member",
        help_text="For the provider role: whose schedule and figures it sees.",
    )

    class Meta:
        ordering = ["user__username"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(role=Role.PROVIDER, provider__isnull=False)
                    | (~models.Q(role=Role.PROVIDER) & models.Q(provider__isnull=True))
                ),
                name="staff_provider_iff_provider_role",
            ),
        ]

    def __str__(self):
        return f"{self.user} ({self.get_role_display()})"


class ApiToken(models.Model):
    """A secret that lets a staff user's program read the staff API.

    Only the key's hash is stored; the key is shown once, when made.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, help_text="What the token is for.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters of the key, so staff can tell tokens apart.
    prefix = models.CharField(max_length=8, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"
