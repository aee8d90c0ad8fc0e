"""Canonical field values: what a raw CRM string *means*, so formatting noise never causes a write.

Each field type reads a raw string into one canonical Python value and writes it back in one
normal form. ``None`` is the only "no value" for every type (``""``, ``";"`` and an empty set all
read as ``None``), so comparing two canonical values with ``==`` is the whole equality test:

==========  =========================  ======================================================
type        canonical value            accepted on read / written as
==========  =========================  ======================================================
string      ``str``                    as is / as is
number      ``Decimal`` (by value)     any decimal literal / plain string, no exponent
date        ``datetime.date``          ``2024-01-17``, ISO datetime or epoch ms at UTC midnight /
                                       ``2024-01-17``
datetime    aware UTC ``datetime``     ISO-8601 with ``Z`` or an offset, a bare date (UTC
            (milliseconds)             midnight), epoch ms / ``2024-01-17T10:00:00.000Z``
enum        ``str``                    stripped / as is
multi_enum  ``frozenset[str]``         ``;``-joined, order, blanks and spaces ignored / sorted
user_set    ``frozenset[str]``         like multi_enum, emails lower-cased / sorted
deal_team   ``frozenset[str]``         owner ids, like multi_enum (a leading ``;`` is ignored);
            (base: :class:`Team`)      its base is a :class:`Team` (see rules.deal_team)
bool        ``bool``                   ``true``/``false`` in any case / ``true``/``false``
==========  =========================  ======================================================

A *value map* (string, enum and multi_enum fields) translates one side's raw vocabulary into the
canonical one; with a map, a raw value outside it is unmappable. Unreadable and unmappable values
raise :class:`RejectedValueError`, which the reconciler turns into a rejection for that field only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from sync_worker.kernel.errors import RejectedValueError
from sync_worker.kernel.team import Team, team_from_jsonable

__all__ = [
    "FieldType",
    "SideCodec",
    "Team",
    "format_value",
    "from_jsonable",
    "make_codec",
    "to_jsonable",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_MS = re.compile(r"-?\d{1,15}")
# Numbers beyond this many digits either side of the point are treated as malformed: writing
# them in plain (non-exponent) form would produce absurdly long strings.
_MAX_DIGITS = 60


class FieldType(StrEnum):
    STRING = "string"
    NUMBER = "number"
    DATE = "date"
    DATETIME = "datetime"
    ENUM = "enum"
    MULTI_ENUM = "multi_enum"
    USER_SET = "user_set"
    DEAL_TEAM = "deal_team"
    BOOL = "bool"


MAPPABLE_TYPES = frozenset({FieldType.STRING, FieldType.ENUM, FieldType.MULTI_ENUM})
SET_TYPES = frozenset({FieldType.MULTI_ENUM, FieldType.USER_SET})


# --- parsers: non-empty raw string -> canonical value (None when it means "no value") ----------


def _parse_string(raw: str) -> str:
    return raw


def _parse_enum(raw: str) -> str | None:
    return raw.strip() or None


def _parse_number(raw: str) -> Decimal:
    try:
        value = Decimal(raw)  # surrounding whitespace is allowed by Decimal itself
    except InvalidOperation:
        raise RejectedValueError(f"not a number: {raw!r}") from None
    if not value.is_finite():
        raise RejectedValueError(f"not a finite number: {raw!r}")
    if value.is_zero():
        return Decimal(0)
    if abs(value.adjusted()) > _MAX_DIGITS:
        raise RejectedValueError(f"number out of range: {raw!r}")
    return value


def _parse_instant(text: str) -> datetime:
    if _EPOCH_MS.fullmatch(text):
        return _EPOCH + timedelta(milliseconds=int(text))
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        if len(text) != 10:
            raise RejectedValueError(f"datetime without a time zone: {text!r}")
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _parse_datetime(raw: str) -> datetime:
    try:
        moment = _parse_instant(raw.strip())
    except (ValueError, OverflowError) as exc:
        if isinstance(exc, RejectedValueError):
            raise
        raise RejectedValueError(f"not a datetime: {raw!r}") from None
    extra = moment.microsecond % 1000
    return moment.replace(microsecond=moment.microsecond - extra) if extra else moment


def _parse_date(raw: str) -> date:
    text = raw.strip()
    if len(text) == 10 and not text.isdigit():
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise RejectedValueError(f"not a date: {raw!r}") from None
    moment = _parse_datetime(text)
    if moment.time() != datetime.min.time():
        raise RejectedValueError(f"not a date (time is not UTC midnight): {raw!r}")
    return moment.date()


def _parse_bool(raw: str) -> bool:
    text = raw.strip().lower()
    if text in ("true", "false"):
        return text == "true"
    raise RejectedValueError(f"not a boolean (true/false): {raw!r}")


def _split(raw: str) -> frozenset[str]:
    return frozenset(filter(None, map(str.strip, raw.split(";"))))


def _parse_users(raw: str) -> frozenset[str]:
    return _split(raw.lower())


# --- formatters: canonical value (never None) -> raw string ------------------------------------


def _format_number(value: Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _format_datetime(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def _format_date(value: date) -> str:
    return value.isoformat()


def _format_bool(value: bool) -> str:
    return "true" if value else "false"


def _format_set(value: frozenset[str]) -> str:
    return ";".join(sorted(value))


def _format_plain(value: str) -> str:
    return value


_Parser = Callable[[str], object]
_Formatter = Callable[[Any], str]

_PARSERS: Mapping[FieldType, _Parser] = {
    FieldType.STRING: _parse_string,
    FieldType.NUMBER: _parse_number,
    FieldType.DATE: _parse_date,
    FieldType.DATETIME: _parse_datetime,
    FieldType.ENUM: _parse_enum,
    FieldType.MULTI_ENUM: _split,
    FieldType.USER_SET: _parse_users,
    FieldType.DEAL_TEAM: _split,
    FieldType.BOOL: _parse_bool,
}

_FORMATTERS: Mapping[FieldType, _Formatter] = {
    FieldType.STRING: _format_plain,
    FieldType.NUMBER: _format_number,
    FieldType.DATE: _format_date,
    FieldType.DATETIME: _format_datetime,
    FieldType.ENUM: _format_plain,
    FieldType.MULTI_ENUM: _format_set,
    FieldType.USER_SET: _format_set,
    FieldType.DEAL_TEAM: _format_set,
    FieldType.BOOL: _format_bool,
}


_DISPLAY: tuple[tuple[type, _Formatter], ...] = (
    (bool, _format_bool),  # before int-like checks: bool is its own type here
    (Decimal, _format_number),
    (datetime, _format_datetime),  # before date: datetime is a subclass of date
    (date, _format_date),
    (frozenset, _format_set),
)


def format_value(value: object) -> str | None:
    """A canonical value for people (``explain``, logs, the audit log); ``None`` stays ``None``."""
    if value is None:
        return None
    for kind, fmt in _DISPLAY:
        if isinstance(value, kind):
            return fmt(value)
    return str(value)


# --- one side's codec ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SideCodec:
    """Reads one side's raw values into canonical ones and writes them back.

    ``read(None)`` and ``read("")`` are ``None``; ``write(None)`` is ``""`` (clears the property).
    Both raise :class:`RejectedValueError` for malformed or unmappable values.
    """

    read: Callable[[str | None], object]
    write: Callable[[object], str]


def make_codec(
    field_type: FieldType, value_map: Mapping[str, str] | None = None, *, label: str = "value map"
) -> SideCodec:
    """The codec of ``field_type``, translating through ``value_map`` (raw -> canonical) if any.

    When several raw values map to one canonical value, writes use the first one listed.
    """
    if value_map is None:
        return _plain_codec(field_type)
    if field_type in SET_TYPES:
        return _mapped_set_codec(value_map, label)
    return _mapped_scalar_codec(field_type, value_map, label)


def _plain_codec(field_type: FieldType) -> SideCodec:
    parse = _PARSERS[field_type]
    fmt = _FORMATTERS[field_type]
    empty_set = field_type in SET_TYPES

    def read(raw: str | None) -> object:
        if not raw:
            return None
        value = parse(raw)
        return None if empty_set and not value else value

    def write(value: object) -> str:
        return "" if value is None else fmt(value)

    return SideCodec(read, write)


def _inverse(value_map: Mapping[str, str]) -> dict[str, str]:
    inverse: dict[str, str] = {}
    for raw, canonical in value_map.items():
        inverse.setdefault(canonical, raw)
    return inverse


def _mapped_scalar_codec(
    field_type: FieldType, value_map: Mapping[str, str], label: str
) -> SideCodec:
    parse = _PARSERS[field_type]
    forward = dict(value_map)
    inverse = _inverse(value_map)

    def read(raw: str | None) -> object:
        key = parse(raw) if raw else None
        if key is None:
            return None
        if key not in forward:
            raise RejectedValueError(f"unmappable: {key!r} is not in the {label}")
        return forward[key]

    def write(value: object) -> str:
        if value is None:
            return ""
        if not isinstance(value, str) or value not in inverse:
            raise RejectedValueError(f"unmappable: {value!r} has no entry in the {label}")
        return inverse[value]

    return SideCodec(read, write)


def _mapped_set_codec(value_map: Mapping[str, str], label: str) -> SideCodec:
    forward = dict(value_map)
    inverse = _inverse(value_map)

    def read(raw: str | None) -> object:
        items = _split(raw) if raw else frozenset()
        unknown = sorted(items - forward.keys())
        if unknown:
            raise RejectedValueError(
                f"unmappable: {', '.join(map(repr, unknown))} not in the {label}"
            )
        return frozenset(forward[item] for item in items) or None

    def write(value: object) -> str:
        if value is None:
            return ""
        members = value if isinstance(value, frozenset) else frozenset({str(value)})
        unknown = sorted(members - inverse.keys())
        if unknown:
            raise RejectedValueError(
                f"unmappable: {', '.join(map(repr, unknown))} not in the {label}"
            )
        return ";".join(sorted(inverse[item] for item in members))

    return SideCodec(read, write)


# --- JSON (the stored base) ---------------------------------------------------------------------

JsonValue = str | bool | list[str] | dict[str, list[str]] | None


def to_jsonable(value: object) -> JsonValue:
    """A canonical value as JSON: sets become sorted lists, everything else its display string."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, Team):
        return {"partner": sorted(value.partner), "rep": sorted(value.rep)}
    if isinstance(value, frozenset):
        return sorted(value)
    return format_value(value)


def from_jsonable(field_type: FieldType, data: object) -> object:
    """The inverse of :func:`to_jsonable` for a field of ``field_type``.

    Raises :class:`RejectedValueError` when ``data`` does not hold a value of that type."""
    if data is None:
        return None
    if field_type is FieldType.BOOL:
        if not isinstance(data, bool):
            raise RejectedValueError(f"expected a boolean, got {data!r}")
        return data
    if field_type is FieldType.DEAL_TEAM:
        try:
            return team_from_jsonable(data)
        except ValueError as exc:  # e.g. the list a text team stored under the same name
            raise RejectedValueError(str(exc)) from None
    if field_type in SET_TYPES:
        if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
            raise RejectedValueError(f"expected a list of strings, got {data!r}")
        return frozenset(data) or None
    if not isinstance(data, str):
        raise RejectedValueError(f"expected a string, got {data!r}")
    return _PARSERS[field_type](data)
