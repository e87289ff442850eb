"""Staff roles: who may see and change what.

Each role is a group of Django permissions for the staff admin, kept in
step with ROLE_PERMISSIONS after every migration. The dashboard, its
exports and the staff API decide by role: the owner sees the whole
practice, a provider only their own figures, the front desk none.
A superuser counts as an owner.
"""

from django.apps import apps as global_apps
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import transaction

from carebook.staff.models import Role, StaffMember

# App labels whose every permission an owner has.
OWNER_APPS = (
    "practice",
    "bookings",
    "payments",
    "notifications",
    "calendars",
    "audit",
    "staff",
    "waitlist",
)

ROLE_PERMISSIONS = {
    Role.OWNER: ("auth.view_user", "auth.add_user", "auth.change_user"),
    Role.FRONT_DESK: (
        "bookings.view_booking",
        "bookings.change_booking",
        "practice.view_practice",
        "practice.view_provider",
        "practice.view_appointmenttype",
        "practice.view_service",
        "practice.view_weeklyhours",
        "practice.add_weeklyhours",
        "practice.change_weeklyhours",
        "practice.delete_weeklyhours",
        "practice.view_dateoverride",
        "practice.add_dateoverride",
        "practice.change_dateoverride",
        "practice.delete_dateoverride",
        "practice.view_timeoff",
        "practice.add_timeoff",
        "practice.change_timeoff",
        "practice.delete_timeoff",
        "payments.view_payment",
        "payments.view_paymentattempt",
        "payments.view_refund",
        "notifications.view_outboxmessage",
        "notifications.change_outboxmessage",
        "waitlist.view_waitlistentry",
        "waitlist.view_waitlistoffer",
    ),
    # The admin shows a provider only their own bookings and waitlist.
    Role.PROVIDER: (
        "bookings.view_booking",
        "waitlist.view_waitlistentry",
        "waitlist.view_waitlistoffer",
    ),
}

GROUP_NAMES = {
    Role.OWNER: "Owner",
    Role.FRONT_DESK: "Front desk",
    Role.PROVIDER: "Provider",
}


def ensure_role_groups(apps=global_apps, **kwargs) -> None:
    """Create each role's group and give it exactly its permissions.

    Runs after every migration; a migration to a point before the auth
    tables exist leaves the groups for a later one.
    """
    try:
        group_model = apps.get_model("auth", "Group")
        permission_model = apps.get_model("auth", "Permission")
    except LookupError:
        return
    for role, group_name in GROUP_NAMES.items():
        group, _ = group_model.objects.get_or_create(name=group_name)
        group.permissions.set(_permissions_of(role, permission_model))


def _permissions_of(role: str, permission_model) -> list:
    wanted = ROLE_PERMISSIONS[role]
    everything = permission_model.objects.select_related("content_type")
    permissions = [
        permission
        for permission in everything
        if f"{permission.content_type.app_label}.{permission.codename}" in wanted
    ]
    if role == Role.OWNER:
        permissions += everything.filter(content_type__app_label__in=OWNER_APPS)
    return permissions


def assign_role(user, role: str, provider=None) -> StaffMember:
    """Make `user` a staff member with `role`, in that role's group only."""
    with transaction.atomic():
        member, _ = StaffMember.objects.update_or_create(
            user=user, defaults={"role": role, "provider": provider}
        )
        sync_staff_user(member)
    return member


def sync_staff_user(member: StaffMember) -> None:
    """Let the member into the staff admin, with their role's group only."""
    user = member.user
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    user.groups.remove(*Group.objects.filter(name__in=GROUP_NAMES.values()))
    user.groups.add(Group.objects.get(name=GROUP_NAMES[member.role]))


def role_of(user) -> str | None:
    """Return the user's role, or None for anyone who is not staff."""
    if not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return Role.OWNER
    if not user.is_staff:
        return None
    member = StaffMember.objects.filter(user=user).only("role").first()
    return member.role if member else None


def own_provider_id(user) -> int | None:
    """Return the provider a provider user is, or None for other users."""
    if user.is_superuser or not user.is_authenticated:
        return None
    return (
        StaffMember.objects.filter(user=user, role=Role.PROVIDER)
        .values_list("provider_id", flat=True)
        .first()
    )


def check_practice_figures(user) -> None:
    """Refuse anyone but the owner the practice's figures and exports."""
    if role_of(user) != Role.OWNER:
        raise PermissionDenied("Only the practice's owner sees these figures.")


def figures_provider_for(user, provider_id: int | None) -> int | None:
    """Return whose figures `user` may see when asking for `provider_id`.

    The owner sees any provider's or the whole practice's (None); a
    provider sees only their own, whatever was asked; nobody else sees any.
    """
    role = role_of(user)
    if role == Role.OWNER:
        return provider_id
    if role == Role.PROVIDER:
        own = own_provider_id(user)
        if provider_id not in (None, own):
            raise PermissionDenied("A provider sees only their own figures.")
        return own
    raise PermissionDenied("Only the owner and providers see figures.")


def schedule_scope(user) -> int | None:
    """Return whose schedule `user` runs: None for every provider's.

    The owner and the front desk run every provider's day; a provider only
    their own. Anyone else is refused.
    """
    role = role_of(user)
    if role in (Role.OWNER, Role.FRONT_DESK):
        return None
    if role == Role.PROVIDER:
        return own_provider_id(user)
    raise PermissionDenied("Only the practice's staff run its schedule.")


def check_schedule_access(user, provider_id: int) -> None:
    """Refuse `user` the schedule, bookings and hours of another provider."""
    scope = schedule_scope(user)
    if scope is not None and scope != provider_id:
        raise PermissionDenied("A provider runs only their own schedule.")
