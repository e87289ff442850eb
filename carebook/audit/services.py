"""Write audit entries."""

from dataclasses import dataclass

from django.db import models

from carebook.audit.models import ActorKind, AuditEntry


@dataclass(frozen=True)
class Actor:
    """Who caused a change: a kind, and the staff user when there is one."""

    kind: str
    user: object = None

    @classmethod
    def for_request(cls, request) -> "Actor":
        """Return the staff user behind a request, or an anonymous patient."""
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_staff:
            return cls(ActorKind.STAFF, user)
        return cls(ActorKind.PATIENT)


PATIENT = Actor(ActorKind.PATIENT)
JOB = Actor(ActorKind.JOB)
WEBHOOK = Actor(ActorKind.WEBHOOK)
SYSTEM = Actor(ActorKind.SYSTEM)


def record_change(
    action: str, obj: models.Model, actor: Actor, changes: dict | None = None
) -> AuditEntry:
    """Record that `actor` did `action` to `obj`, with what changed."""
    return AuditEntry.objects.create(
        actor_kind=actor.kind,
        actor_user=actor.user,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        changes=changes or {},
    )
