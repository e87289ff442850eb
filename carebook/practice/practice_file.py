"""Read a YAML practice file and check it, naming each problem's line.

The format is described in docs/practice-file.md. Every problem is collected
with its line number and the path of its key, so one run reports all of them.
"""

import difflib
import itertools
import logging
import re
import types
import typing
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, NamedTuple
from zoneinfo import ZoneInfo

import yaml
from babel import Locale, UnknownLocaleError
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import models
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainValidator,
    Strict,
    StringConstraints,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError

from carebook.contact import clean_phone
from carebook.money import (
    decimal_string,
    is_known_currency,
    minor_digits,
    to_minor_units,
)
from carebook.practice.models import (
    Practice,
    validate_zone,
)
from carebook.timezones import EARLIEST_DATE, LATEST_DATE, is_supported_date

logger = logging.getLogger(__name__)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_MINUTES = 24 * 60
# The largest amount a PositiveIntegerField holds on every database.
MAX_AMOUNT = 2_147_483_647
# A free cancellation window longer than a year would never end before a
# booking could be made, and far larger ones overflow date arithmetic.
MAX_FREE_HOURS = 365 * 24
SLUG_MAX_LENGTH = 50

SLUG_PATTERN = re.compile(r"[-a-zA-Z0-9_]+")
TIME_PATTERN = re.compile(r"(\d\d):(\d\d)")
DATE_PATTERN = re.compile(r"\d{4}-\d\d-\d\d")
MOMENT_PATTERN = re.compile(r"(\d{4}-\d\d-\d\d)(?: (\d\d:\d\d))?")


class PracticeFileError(Exception):
    """A practice file that cannot be loaded, with every problem found."""

    def __init__(self, messages: list[str]):
        super().__init__("\n".join(messages))
        self.messages = messages


# --- Reading YAML -----------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """Read plain scalars the YAML 1.2 way.

    PyYAML follows YAML 1.1, where `13:30` is the number 810, `010` is 8,
    `no` is false and `2026-12-24` is a date. Here only decimal numbers,
    true/false and null are read as such; everything else stays text, so
    times and dates reach the schema exactly as written.
    """

    yaml_implicit_resolvers: typing.ClassVar[dict] = {}


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:null",
    re.compile(r"^(?:~|null|Null|NULL|)$"),
    ["~", "n", "N", ""],
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$"),
    list("-+0123456789."),
)
_Loader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^<<$"), ["<"])


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file: where, by key path or line, and what."""

    path: tuple
    message: str
    line: int | None = None


def _read_yaml(text: str, source_name: str) -> tuple[Any, yaml.Node, list[Problem]]:
    """Return the data, the node tree (which knows lines) and doubled keys."""
    try:
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
            duplicates = _duplicate_key_problems(root, ())
            data = None if root is None else loader.construct_document(root)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as error:
        raise PracticeFileError([_yaml_message(error, source_name)]) from None
    except yaml.YAMLError as error:
        raise PracticeFileError([f"{source_name}: {error}"]) from None

    if root is None:
        raise PracticeFileError([f"{source_name}:1: the file is empty"])
    return data, root, duplicates


def _yaml_message(error: yaml.MarkedYAMLError, source_name: str) -> str:
    """Return a YAML syntax error as `file:line: problem`."""
    mark = error.problem_mark or error.context_mark
    message = error.problem or error.context or "not valid YAML"
    if error.context and error.problem and error.context_mark:
        message += f" ({error.context} on line {error.context_mark.line + 1})"
    return f"{source_name}:{mark.line + 1}: {message}"


def _duplicate_key_problems(
    node: yaml.Node | None, path: tuple, seen_nodes: set | None = None
) -> list[Problem]:
    """Return a problem for each key written twice in one mapping.

    PyYAML keeps the last of two equal keys without a word, which would hide
    a second `mon:` line. Anchors may make the tree a graph, hence
    `seen_nodes`.
    """
    seen_nodes = set() if seen_nodes is None else seen_nodes
    if node is None or id(node) in seen_nodes:
        return []
    seen_nodes.add(id(node))

    problems = []
    if isinstance(node, yaml.MappingNode):
        keys = set()
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag.endswith(":merge"):
                continue
            if key.value in keys:
                line = key.start_mark.line + 1
                problems.append(Problem(path, f'key "{key.value}" appears twice', line))
            keys.add(key.value)
            problems += _duplicate_key_problems(value, (*path, key.value), seen_nodes)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            problems += _duplicate_key_problems(item, (*path, index), seen_nodes)
    return problems


# --- Checking single values ---------------------------------------------------


def _show(value: Any) -> str:
    """Return a value as it would be written in the file."""
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    return str(value)


def _check_slug(value: str) -> str:
    if not SLUG_PATTERN.fullmatch(value) or len(value) > SLUG_MAX_LENGTH:
        raise ValueError(
            f"{_show(value)} is not a slug: use up to {SLUG_MAX_LENGTH} letters, "
            "digits, hyphens and underscores"
        )
    return value


def _check_email(value: str) -> str:
    try:
        validate_email(value)
    except DjangoValidationError:
        raise ValueError(f"{_show(value)} is not an email address") from None
    return value


def _check_zone(value: str) -> str:
    try:
        validate_zone(value)
    except DjangoValidationError:
        raise ValueError(f"{_show(value)} is not an IANA time zone") from None
    return value


def _check_currency(value: str) -> str:
    if not is_known_currency(value):
        raise ValueError(f"{_show(value)} is not an ISO 4217 currency code")
    return value


def _check_locale(value: str) -> str:
    """Return the locale in Babel's spelling (`en_IE`), refusing unknown ones."""
    try:
        return str(Locale.parse(value.replace("-", "_")))
    except (UnknownLocaleError, ValueError):
        raise ValueError(f"{_show(value)} is not a locale Babel knows") from None


def _parse_price(value: Any, info: ValidationInfo) -> int:
    """Return a price in major units ("80.00") as minor units (8000)."""
    return _parse_amount(value, info, "price")


def _parse_deposit(value: Any, info: ValidationInfo) -> int:
    """Return a deposit like a price; a deposit of zero is refused."""
    return _parse_amount(value, info, "deposit", allow_zero=False)


def _parse_amount(
    value: Any, info: ValidationInfo, what: str, allow_zero: bool = True
) -> int:
    """Return an amount in major units as minor units, naming it `what`.

    The currency comes from the validation context; when the file's currency
    is itself wrong, only the number is checked and 0 is returned.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f'{what} {_show(value)} is not a number such as "80.00"')
    text = str(value).strip()
    try:
        amount = Decimal(text)
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():
        raise ValueError(f'{what} "{text}" is not a number such as "80.00"')
    if amount < 0:
        raise ValueError(f'{what} "{text}" is negative')
    if amount == 0 and not allow_zero:
        raise ValueError(f'{what} "{text}" must be more than zero')

    currency = info.context["currency"]
    if currency is None:
        return 0
    try:
        minor_units = to_minor_units(text, currency)
    except ValueError:
        raise ValueError(
            f'{what} "{text}" has more decimal places than {currency} allows '
            f"({minor_digits(currency)})"
        ) from None
    if minor_units > MAX_AMOUNT:
        raise ValueError(f'{what} "{text}" is too large')
    return minor_units


def _check_known_type(slug: str, info: ValidationInfo) -> str:
    known = info.context["appointment_types"]
    if slug not in known:
        listed = ", ".join(sorted(known)) or "none"
        raise ValueError(
            f'unknown appointment type "{slug}" (appointment_types has: {listed})'
        )
    return slug


def _wall_minutes(value: Any, which: str, allow_midnight: bool = False) -> int:
    """Return "HH:MM" as minutes after midnight; "24:00" is 1440 if allowed."""
    match = TIME_PATTERN.fullmatch(value) if isinstance(value, str) else None
    if match:
        hours, minutes = int(match[1]), int(match[2])
        if hours < 24 and minutes < 60:
            return hours * 60 + minutes
        if allow_midnight and (hours, minutes) == (24, 0):
            return DAY_MINUTES
    raise ValueError(f"{which} time {_show(value)} is not a valid time HH:MM")


class TimeRange(NamedTuple):
    """Working time on one day, in minutes after midnight, end after start."""

    start: int
    end: int

    def __str__(self):
        return f'["{_hh_mm(self.start)}", "{_hh_mm(self.end)}"]'

    def as_times(self) -> tuple[time, time]:
        """Return the range as times; an end of 24:00 becomes 00:00.

        The engine reads an end at or before the start as running into the
        next day, so 00:00 ends the range at midnight.
        """
        return _to_time(self.start), _to_time(self.end % DAY_MINUTES)


def _hh_mm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _to_time(minutes: int) -> time:
    return time(minutes // 60, minutes % 60)


def _parse_time_range(value: Any) -> TimeRange:
    if not isinstance(value, list) or len(value) != 2:
        raise ValueError(
            f'{_show(value)} is not a pair of times such as ["09:00", "12:30"]'
        )
    start = _wall_minutes(value[0], "start")
    end = _wall_minutes(value[1], "end", allow_midnight=True)
    if end <= start:
        raise ValueError(
            f'end time "{value[1]}" is not after start time "{value[0]}" '
            '(write "24:00" for midnight)'
        )
    return TimeRange(start, end)


def _check_no_overlap(ranges: list[TimeRange]) -> list[TimeRange]:
    for earlier, later in itertools.pairwise(sorted(ranges)):
        if later.start < earlier.end:
            raise ValueError(f"{later} overlaps {earlier}")
    return ranges


def _parse_date(value: Any) -> date:
    if isinstance(value, str) and DATE_PATTERN.fullmatch(value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            pass
        else:
            _check_supported(day, value)
            return day
    raise ValueError(f"date {_show(value)} is not a valid date YYYY-MM-DD")


def _check_supported(day: date, value: Any) -> None:
    """Refuse a date too far away for any appointment."""
    if not is_supported_date(day):
        raise ValueError(
            f"date {_show(value)} is outside the dates Carebook handles "
            f"({EARLIEST_DATE} to {LATEST_DATE})"
        )


def _check_moment(value: Any) -> str:
    """Refuse text that is neither "YYYY-MM-DD HH:MM" nor "YYYY-MM-DD"."""
    try:
        day, _ = _wall_moment(value, is_end=False)
    except (TypeError, ValueError):
        raise ValueError(
            f'{_show(value)} is not a date and time "YYYY-MM-DD HH:MM" '
            'or a date "YYYY-MM-DD"'
        ) from None
    _check_supported(day, value)
    return value


def _wall_moment(text: str, is_end: bool) -> tuple[date, time]:
    """Return the wall-clock date and time a time-off bound stands for.

    A bare date starts at its midnight; as an end it includes the whole day,
    so it ends at the next midnight.
    """
    match = MOMENT_PATTERN.fullmatch(text)
    if match is None:
        raise ValueError(text)
    day = date.fromisoformat(match[1])
    if match[2] is None:
        return day + timedelta(days=int(is_end)), time(0, 0)
    return day, _to_time(_wall_minutes(match[2], "time off"))


# --- The schema ---------------------------------------------------------------

Slug = Annotated[str, AfterValidator(_check_slug)]
EmailAddress = Annotated[str, AfterValidator(_check_email)]
Zone = Annotated[str, AfterValidator(_check_zone)]
Currency = Annotated[str, AfterValidator(_check_currency)]
LocaleName = Annotated[str, AfterValidator(_check_locale)]
Price = Annotated[int, PlainValidator(_parse_price)]
Deposit = Annotated[int, PlainValidator(_parse_deposit)]
ServiceType = Annotated[str, AfterValidator(_check_known_type)]
WallDate = Annotated[date, PlainValidator(_parse_date)]
Moment = Annotated[str, PlainValidator(_check_moment)]
DayHours = Annotated[
    list[Annotated[TimeRange, PlainValidator(_parse_time_range)]],
    AfterValidator(_check_no_overlap),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Minutes = Annotated[int, Strict(), Field(ge=0)]
FreeHours = Annotated[int, Strict(), Field(ge=0, le=MAX_FREE_HOURS)]
FeePercent = Annotated[int, Strict(), Field(ge=0, le=100)]


def _default(model: type[models.Model], name: str):
    """Return a model field's default, so the file and the model agree."""
    return model._meta.get_field(name).default


class Spec(BaseModel):
    """Part of a practice file; a key the schema does not know is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class BookingRulesSpec(Spec):
    min_notice_minutes: Annotated[Minutes, Field(le=365 * DAY_MINUTES)] = _default(
        Practice, "min_notice_minutes"
    )
    horizon_days: Annotated[int, Strict(), Field(ge=1, le=3650)] = _default(
        Practice, "horizon_days"
    )
    slot_step_minutes: Annotated[int, Strict(), Field(ge=5, le=DAY_MINUTES)] = _default(
        Practice, "slot_step_minutes"
    )
    cancel_cutoff_hours: Annotated[int, Strict(), Field(ge=0, le=8760)] = _default(
        Practice, "cancel_cutoff_hours"
    )
    reschedule_cutoff_hours: Annotated[int, Strict(), Field(ge=0, le=8760)] = _default(
        Practice, "reschedule_cutoff_hours"
    )


class CancellationSpec(Spec):
    """The practice's cancellation policy."""

    free_hours: FreeHours = _default(Practice, "free_cancellation_hours")
    late_fee_percent: FeePercent = _default(Practice, "late_cancellation_fee_percent")

    def as_fields(self) -> dict[str, int | None]:
        """Return the policy as the model fields that store it."""
        return {
            "free_cancellation_hours": self.free_hours,
            "late_cancellation_fee_percent": self.late_fee_percent,
        }


class CancellationOverrideSpec(CancellationSpec):
    """An appointment type's own policy; a key left out uses the practice's."""

    free_hours: FreeHours | None = None
    late_fee_percent: FeePercent | None = None


class PracticeSpec(Spec):
    slug: Slug
    name: Annotated[Name, Field(max_length=200)]
    timezone: Zone
    currency: Currency
    locale: LocaleName = _default(Practice, "locale")
    email: EmailAddress = ""
    phone: Annotated[
        str, Strict(), Field(max_length=40), AfterValidator(clean_phone)
    ] = ""
    booking_rules: BookingRulesSpec = BookingRulesSpec()
    cancellation: CancellationSpec = CancellationSpec()
    calendar_feed_shows_names: Annotated[bool, Strict()] = _default(
        Practice, "calendar_feed_shows_names"
    )


class AppointmentTypeSpec(Spec):
    slug: Slug
    name: Annotated[Name, Field(max_length=100)]
    duration_minutes: Annotated[int, Strict(), Field(ge=5)]
    buffer_before_minutes: Minutes = 0
    buffer_after_minutes: Minutes = 0
    cancellation: CancellationOverrideSpec = CancellationOverrideSpec()

    @model_validator(mode="after")
    def _fits_in_a_day(self):
        # Booking overlap queries assume no blocked span is longer.
        total = (
            self.duration_minutes
            + self.buffer_before_minutes
            + self.buffer_after_minutes
        )
        if total > DAY_MINUTES:
            raise ValueError(
                f"duration_minutes plus buffers is {total} minutes, more than "
                f"24 hours ({DAY_MINUTES})"
            )
        return self


class WeekHoursSpec(Spec):
    """Each weekday's working time; a day left out is not worked."""

    mon: DayHours = []
    tue: DayHours = []
    wed: DayHours = []
    thu: DayHours = []
    fri: DayHours = []
    sat: DayHours = []
    sun: DayHours = []


class OverrideSpec(Spec):
    """Hours that replace one date's weekly hours; none closes the date."""

    date: WallDate
    hours: DayHours


class TimeOffSpec(Spec):
    """Time away, as wall-clock bounds in the provider's zone."""

    start: Moment
    end: Moment
    reason: ShortText = ""

    @model_validator(mode="after")
    def _ends_after_start(self):
        if self.wall_end <= self.wall_start:
            raise ValueError(f'end "{self.end}" is not after start "{self.start}"')
        return self

    @property
    def wall_start(self) -> tuple[date, time]:
        return _wall_moment(self.start, is_end=False)

    @property
    def wall_end(self) -> tuple[date, time]:
        return _wall_moment(self.end, is_end=True)

    def instants(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """Return the start and end as UTC instants, read in `zone`.

        Wall times are read the way the availability engine reads them, so
        time off lines up with the hours it blocks.
        """
        return tuple(
            datetime.combine(day, wall, tzinfo=zone).astimezone(UTC)
            for day, wall in (self.wall_start, self.wall_end)
        )


class ServiceSpec(Spec):
    """A service's price and the deposit paid online instead of it, if any."""

    price: Price
    deposit: Deposit | None = None

    @field_validator("deposit")
    @classmethod
    def _deposit_within_price(cls, deposit: int | None, info: ValidationInfo):
        # The price is missing from info.data when it was itself wrong, and
        # both amounts are 0 when the currency is.
        price = info.data.get("price")
        currency = info.context["currency"]
        if deposit is None or price is None or currency is None:
            return deposit
        if deposit > price:
            raise ValueError(
                f'deposit "{decimal_string(deposit, currency)}" is more than '
                f'the price "{decimal_string(price, currency)}"'
            )
        return deposit


# A service is written as a price alone or as a mapping with a deposit. The
# tags name the two forms in pydantic's error locations; _problem_from drops
# them, so errors name the keys as the file writes them.
PLAIN_PRICE = "[plain price]"
PRICE_MAPPING = "[price mapping]"
SERVICE_FORMS = (PLAIN_PRICE, PRICE_MAPPING)


def _service_form(value: Any) -> str:
    return PRICE_MAPPING if isinstance(value, dict) else PLAIN_PRICE


def _price_only(price: int) -> ServiceSpec:
    """Return a price written alone as a service without a deposit."""
    return ServiceSpec.model_construct(price=price)


ServiceEntry = Annotated[
    Annotated[Price, AfterValidator(_price_only), Tag(PLAIN_PRICE)]
    | Annotated[ServiceSpec, Tag(PRICE_MAPPING)],
    Discriminator(_service_form),
]


class ProviderSpec(Spec):
    slug: Slug
    name: Annotated[Name, Field(max_length=200)]
    specialty: Annotated[Name, Field(max_length=100)]
    bio: Annotated[str, StringConstraints(strip_whitespace=True)] = ""
    email: EmailAddress = ""
    timezone: Zone | None = None
    services: dict[ServiceType, ServiceEntry] = {}
    hours: WeekHoursSpec = WeekHoursSpec()
    overrides: list[OverrideSpec] = []
    time_off: list[TimeOffSpec] = []


class PracticeFile(Spec):
    """A whole practice file."""

    practice: PracticeSpec
    appointment_types: list[AppointmentTypeSpec] = []
    providers: list[ProviderSpec] = []


# --- Reading a whole file ----------------------------------------------------


def parse_practice_file(text: str, source_name: str) -> PracticeFile:
    """Return the checked contents of a practice file.

    Raise PracticeFileError naming every problem found, each as
    `file:line: key.path: what is wrong`.
    """
    data, root, problems = _read_yaml(text, source_name)

    problems += _duplicate_entry_problems(data)
    try:
        spec = PracticeFile.model_validate(data, context=_context_from(data))
    except PydanticValidationError as error:
        problems += [_problem_from(detail) for detail in error.errors()]
        spec = None

    # Zones are only known to be valid once the schema passed.
    if spec is not None:
        problems += _time_off_problems(spec)
    if problems:
        raise PracticeFileError(_format_problems(problems, root, source_name))
    return spec


def _context_from(data: Any) -> dict:
    """Return what single values need to know about the rest of the file."""
    data = data if isinstance(data, dict) else {}
    practice = data.get("practice")
    currency = practice.get("currency") if isinstance(practice, dict) else None
    if not isinstance(currency, str) or not is_known_currency(currency):
        currency = None

    return {
        "currency": currency,
        "appointment_types": {
            entry.get("slug") for entry in _entries(data.get("appointment_types"))
        },
    }


def _entries(value: Any) -> list[dict]:
    """Return the mappings in a list from the file, skipping anything else."""
    if not isinstance(value, list):
        return []
    return [entry for entry in value if isinstance(entry, dict)]


def _duplicate_entry_problems(data: Any) -> list[Problem]:
    """Return a problem for each slug or override date listed twice."""
    if not isinstance(data, dict):
        return []

    problems = _duplicates(
        data.get("appointment_types"), ("appointment_types",), "slug"
    )
    problems += _duplicates(data.get("providers"), ("providers",), "slug")
    providers = data.get("providers")
    for index, provider in enumerate(providers if isinstance(providers, list) else []):
        # Count every entry, so the index matches the file's.
        if isinstance(provider, dict):
            path = ("providers", index, "overrides")
            problems += _duplicates(provider.get("overrides"), path, "date")
    return problems


def _duplicates(entries: Any, path: tuple, key: str) -> list[Problem]:
    first_index = {}
    problems = []
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        value = entry.get(key) if isinstance(entry, dict) else None
        if not isinstance(value, str):
            continue
        if value in first_index:
            first = _path_text((*path, first_index[value]))
            problems.append(
                Problem(
                    (*path, index, key),
                    f'{key} "{value}" is already given in {first}',
                )
            )
        first_index.setdefault(value, index)
    return problems


def _problem_from(detail: dict) -> Problem:
    """Return a pydantic error as a problem in the file's own words."""
    loc = tuple(step for step in detail["loc"] if step not in SERVICE_FORMS)
    kind = detail["type"]
    if kind == "missing":
        return Problem(loc[:-1], f'missing required key "{loc[-1]}"')
    if kind == "extra_forbidden":
        return Problem(loc, _unknown_key_message(loc))
    return Problem(loc, _message_for(kind, detail))


def _message_for(kind: str, detail: dict) -> str:
    context = detail.get("ctx", {})
    match kind:
        case "value_error":
            return str(context["error"])
        case "greater_than_equal":
            return f"must be at least {context['ge']}"
        case "less_than_equal":
            return f"must be at most {context['le']}"
        case "string_too_short":
            return "must not be empty"
        case "string_too_long":
            return f"must be at most {context['max_length']} characters"
        case "int_type":
            return f"expected a whole number, got {_show(detail['input'])}"
        case "string_type":
            return f"expected text, got {_show(detail['input'])}"
        case "bool_type":
            return f"expected true or false, got {_show(detail['input'])}"
        case "list_type":
            return "expected a list"
        case "dict_type" | "model_type":
            return "expected a mapping of keys to values"
        case _:
            return detail["msg"]


def _unknown_key_message(loc: tuple) -> str:
    """Return the message for an unknown key, naming the likely intended one."""
    key = str(loc[-1])
    allowed = list(_spec_at(loc[:-1]).model_fields)
    close = difflib.get_close_matches(key, allowed, n=1)
    if close:
        return f'unknown key "{key}" (did you mean "{close[0]}"?)'
    return f'unknown key "{key}" (expected one of: {", ".join(allowed)})'


def _spec_at(loc: tuple) -> type[Spec]:
    """Return the schema class that validates the mapping at `loc`."""
    current: Any = PracticeFile
    for step in loc:
        if isinstance(current, type) and issubclass(current, Spec):
            current = current.model_fields[step].annotation
        else:
            # A list's item or a mapping's value.
            current = typing.get_args(current)[-1]
        current = _bare_type(current)
    return current


def _bare_type(annotation: Any) -> Any:
    """Return the annotation without Annotated metadata or `| None`.

    Of a union of a value and a mapping, such as a service's two forms, the
    mapping's schema class is returned, since only a mapping has keys.
    """
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    if not (
        isinstance(annotation, types.UnionType)
        or typing.get_origin(annotation) is typing.Union
    ):
        return annotation

    members = [
        _bare_type(member)
        for member in typing.get_args(annotation)
        if member is not type(None)
    ]
    specs = [m for m in members if isinstance(m, type) and issubclass(m, Spec)]
    return (specs or members)[0]


def _time_off_problems(spec: PracticeFile) -> list[Problem]:
    """Return time off that ends before it starts once read in its zone.

    Only a daylight-saving change between two wall times close together can
    cause this; the wall times themselves were already checked.
    """
    problems = []
    for index, provider in enumerate(spec.providers):
        zone = ZoneInfo(provider.timezone or spec.practice.timezone)
        for off_index, off in enumerate(provider.time_off):
            start, end = off.instants(zone)
            if end <= start:
                problems.append(
                    Problem(
                        ("providers", index, "time_off", off_index),
                        f'end "{off.end}" is not after start "{off.start}" in '
                        f"{zone.key} (a daylight-saving change falls between)",
                    )
                )
    return problems


def _format_problems(
    problems: list[Problem], root: yaml.Node, source_name: str
) -> list[str]:
    """Return the problems as `file:line: path: message`, in file order."""
    lines = [problem.line or _line_of(root, problem.path) for problem in problems]
    ordered = sorted(zip(lines, problems, strict=True), key=lambda pair: pair[0])
    return [
        f"{source_name}:{line}: {_path_text(problem.path)}: {problem.message}"
        if _path_text(problem.path)
        else f"{source_name}:{line}: {problem.message}"
        for line, problem in ordered
    ]


def _path_text(path: tuple) -> str:
    """Return a key path as `providers[2].hours.tue[0]`."""
    text = ""
    for step in path:
        if isinstance(step, int):
            text += f"[{step}]"
        elif step != "[key]":
            text += f".{step}" if text else str(step)
    return text


def _line_of(root: yaml.Node, path: tuple) -> int:
    """Return the line of the deepest node `path` reaches.

    A mapping's value is placed at its key's line, which is where a reader
    looks even when the value starts on the next line.
    """
    node, line = root, root.start_mark.line + 1
    for step in path:
        if step == "[key]":
            break
        if isinstance(node, yaml.MappingNode):
            pairs = [pair for pair in node.value if pair[0].value == step]
            if not pairs:
                break
            # After merge keys are expanded the last equal key wins.
            key, node = pairs[-1]
            line = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
            if step >= len(node.value):
                break
            node = node.value[step]
            line = node.start_mark.line + 1
        else:
            break
    return line
