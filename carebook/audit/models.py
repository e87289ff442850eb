"""The audit trail: who changed what, and when, kept apart from the logs."""

from django.conf import settings
from django.db import models


class ActorKind(models.TextChoices):
    PATIENT = "patient"
    STAFF = "staff"
    WEBHOOK = "webhook"
    JOB = "job"
    SYSTEM = "system"


class AuditEntry(models.Model):
    """One state change of one object."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self):
        return f"{self.action} {self.object_type}:{self.object_id}"
