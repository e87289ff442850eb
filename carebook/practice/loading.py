"""Create or update a practice from a checked practice file.

In one transaction: create or update the practice, its appointment types and
providers, and make each listed provider's services, weekly hours, date
overrides and time off exactly what the file says.

Rows are compared before they are written, so loading the same file twice
changes nothing the second time. Nothing a booking may point at is deleted:
appointment types missing from the file are kept, and providers missing from
it are deactivated.
"""

import logging
from collections import Counter
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.db import models, transaction

from carebook.audit.services import SYSTEM, Actor, record_change
from carebook.practice.models import (
    AppointmentType,
    DateOverride,
    Practice,
    Provider,
    Service,
    TimeOff,
    WeeklyHours,
)
from carebook.practice.practice_file import (
    WEEKDAYS,
    OverrideSpec,
    PracticeFile,
    PracticeFileError,
    ProviderSpec,
    ServiceSpec,
    parse_practice_file,
)

logger = logging.getLogger(__name__)


@dataclass
class LoadResult:
    """What loading a file changed, counted by kind of row."""

    practice: Practice | None = None
    created: Counter = field(default_factory=Counter)
    updated: Counter = field(default_factory=Counter)
    deleted: Counter = field(default_factory=Counter)
    deactivated_providers: list[str] = field(default_factory=list)
    unlisted_appointment_types: list[str] = field(default_factory=list)

    @property
    def is_changed(self) -> bool:
        return bool(
            self.created or self.updated or self.deleted or self.deactivated_providers
        )

    def count(self, counter: Counter, kind: str, number: int = 1) -> None:
        """Add `number` rows of `kind` to a counter, leaving zeros out."""
        if number:
            counter[kind] += number

    def summary(self) -> str:
        """Return a few lines saying what changed, for the person loading."""
        practice = f'Practice "{self.practice.slug}"'
        if not self.is_changed:
            lines = [f"{practice} is already up to date; nothing changed."]
        else:
            lines = [
                f"{practice} loaded.",
                f"created: {_counts_text(self.created)}",
                f"updated: {_counts_text(self.updated)}",
                f"deleted: {_counts_text(self.deleted)}",
                f"deactivated providers: {_list_text(self.deactivated_providers)}",
            ]
        if self.unlisted_appointment_types:
            names = _list_text(self.unlisted_appointment_types)
            lines.append(f"kept, though not in the file: appointment types {names}")
        return "\n".join(lines)

    def as_changes(self, source_name: str) -> dict:
        """Return what changed as the audit entry's `changes`."""
        return {
            "source": source_name,
            "created": dict(self.created),
            "updated": dict(self.updated),
            "deleted": dict(self.deleted),
            "deactivated_providers": self.deactivated_providers,
        }


def _counts_text(counter: Counter) -> str:
    return ", ".join(f"{kind} {number}" for kind, number in counter.items()) or "none"


def _list_text(names: list[str]) -> str:
    return ", ".join(names) or "none"


def load_practice(text: str, source_name: str, actor: Actor = SYSTEM) -> LoadResult:
    """Create or update the practice a practice file describes.

    Raise PracticeFileError, before touching the database, when the file has
    any problem. `source_name` names the file in messages and the audit
    trail.
    """
    spec = parse_practice_file(text, source_name)

    with transaction.atomic():
        _check_one_practice(spec, source_name)
        result = _save_practice(spec)
        if result.is_changed:
            changes = result.as_changes(source_name)
            record_change("practice.loaded", result.practice, actor, changes)

    if result.is_changed:
        logger.info(
            "Practice %s loaded from %s: created %s; updated %s; deleted %s",
            result.practice.pk,
            source_name,
            _counts_text(result.created),
            _counts_text(result.updated),
            _counts_text(result.deleted),
        )
    else:
        logger.info("Practice %s already matches %s", result.practice.pk, source_name)
    return result


def _check_one_practice(spec: PracticeFile, source_name: str) -> None:
    """Refuse a second practice: one deployment serves one practice.

    The patient pages, the staff's time zone and the API all speak for a
    single practice; a second one would mix into them.
    """
    other = Practice.objects.exclude(slug=spec.practice.slug).first()
    if other is not None:
        raise PracticeFileError(
            [
                f"{source_name}: practice.slug: this Carebook already holds "
                f'practice "{other.slug}" and serves one practice; use that '
                "slug to update it, or start from an empty database"
            ]
        )


def _save_practice(spec: PracticeFile) -> LoadResult:
    """Write the practice file's contents; the caller holds the transaction."""
    result = LoadResult()
    values = spec.practice.model_dump(exclude={"slug", "booking_rules", "cancellation"})
    values |= spec.practice.booking_rules.model_dump()
    values |= spec.practice.cancellation.as_fields()
    practice = _upsert(
        result, "practice", Practice, {"slug": spec.practice.slug}, values
    )
    result.practice = practice

    types_by_slug = {
        entry.slug: _upsert(
            result,
            "appointment types",
            AppointmentType,
            {"practice": practice, "slug": entry.slug},
            entry.model_dump(exclude={"slug", "cancellation"})
            | entry.cancellation.as_fields(),
        )
        for entry in spec.appointment_types
    }
    unlisted_types = practice.appointment_types.exclude(slug__in=types_by_slug)
    result.unlisted_appointment_types = sorted(
        unlisted_types.values_list("slug", flat=True)
    )

    for entry in spec.providers:
        _save_provider(result, practice, entry, types_by_slug)

    _deactivate_unlisted_providers(result, practice, spec.providers)
    return result


def _upsert(
    result: LoadResult,
    kind: str,
    model: type[models.Model],
    lookup: dict,
    values: dict,
) -> models.Model:
    """Return the row matching `lookup` with `values`, saving only changes."""
    row = model.objects.filter(**lookup).first()
    if row is None:
        result.count(result.created, kind)
        return model.objects.create(**lookup, **values)

    changed = [name for name, value in values.items() if getattr(row, name) != value]
    if changed:
        for name in changed:
            setattr(row, name, values[name])
        row.save(update_fields=changed)
        result.count(result.updated, kind)
    return row


def _save_provider(
    result: LoadResult,
    practice: Practice,
    spec: ProviderSpec,
    types_by_slug: dict[str, AppointmentType],
) -> None:
    """Write one provider and make their services and schedule the file's."""
    values = {
        "name": spec.name,
        "specialty": spec.specialty,
        "bio": spec.bio,
        "email": spec.email,
        "timezone": spec.timezone or "",
        "is_active": True,
    }
    lookup = {"practice": practice, "slug": spec.slug}
    provider = _upsert(result, "providers", Provider, lookup, values)

    _replace_services(result, provider, spec.services, types_by_slug)

    zone = ZoneInfo(spec.timezone or practice.timezone)
    _replace_rows(
        result,
        "weekly hours",
        WeeklyHours,
        provider,
        ("weekday", "start_time", "end_time"),
        {
            (weekday, *time_range.as_times())
            for weekday, name in enumerate(WEEKDAYS)
            for time_range in getattr(spec.hours, name)
        },
    )
    _replace_rows(
        result,
        "date overrides",
        DateOverride,
        provider,
        ("date", "start_time", "end_time"),
        {row for override in spec.overrides for row in _override_rows(override)},
    )
    _replace_rows(
        result,
        "time off",
        TimeOff,
        provider,
        ("start", "end", "reason"),
        {(*off.instants(zone), off.reason) for off in spec.time_off},
    )


def _override_rows(override: OverrideSpec) -> list[tuple]:
    """Return an override's rows; a closed date is one row without times."""
    if not override.hours:
        return [(override.date, None, None)]
    return [(override.date, *time_range.as_times()) for time_range in override.hours]


def _replace_services(
    result: LoadResult,
    provider: Provider,
    services: dict[str, ServiceSpec],
    types_by_slug: dict[str, AppointmentType],
) -> None:
    """Make the provider offer exactly the file's services, prices, deposits.

    A service the file gives no deposit has its deposit cleared.
    """
    wanted = {
        types_by_slug[slug].pk: (entry.price, entry.deposit)
        for slug, entry in services.items()
    }
    for service in provider.services.all():
        amounts = wanted.pop(service.appointment_type_id, None)
        if amounts is None:
            service.delete()
            result.count(result.deleted, "services")
        elif amounts != (service.price_amount, service.deposit_amount):
            service.price_amount, service.deposit_amount = amounts
            service.save(update_fields=["price_amount", "deposit_amount"])
            result.count(result.updated, "services")

    Service.objects.bulk_create(
        Service(
            provider=provider,
            appointment_type_id=type_id,
            price_amount=price,
            deposit_amount=deposit,
        )
        for type_id, (price, deposit) in wanted.items()
    )
    result.count(result.created, "services", len(wanted))


def _replace_rows(
    result: LoadResult,
    kind: str,
    model: type[models.Model],
    provider: Provider,
    fields: tuple[str, ...],
    wanted: set[tuple],
) -> None:
    """Make the provider's rows of `model` exactly `wanted`.

    Rows are compared on `fields`; rows already right are left alone, so a
    reload does not churn ids.
    """
    missing = set(wanted)
    stale = []
    for row in model.objects.filter(provider=provider):
        key = tuple(getattr(row, name) for name in fields)
        if key in missing:
            missing.remove(key)
        else:
            stale.append(row.pk)

    model.objects.filter(pk__in=stale).delete()
    model.objects.bulk_create(
        model(provider=provider, **dict(zip(fields, key, strict=True)))
        for key in sorted(missing, key=_sort_key)
    )
    result.count(result.deleted, kind, len(stale))
    result.count(result.created, kind, len(missing))


def _sort_key(key: tuple) -> tuple:
    """Order row keys that may hold None, so rows are created in order."""
    return tuple((value is not None, value) for value in key)


def _deactivate_unlisted_providers(
    result: LoadResult, practice: Practice, listed: list[ProviderSpec]
) -> None:
    """Deactivate providers the file no longer lists; bookings keep them."""
    unlisted = practice.providers.filter(is_active=True).exclude(
        slug__in=[spec.slug for spec in listed]
    )
    result.deactivated_providers = sorted(unlisted.values_list("slug", flat=True))
    unlisted.update(is_active=False)
