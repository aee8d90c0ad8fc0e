"""HubSpot JSON <-> the connector port's values. Pure functions, no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sync_worker.connectors.base import Pipeline, PropertyDef, Stage, User
from sync_worker.connectors.hubspot.paginator import MODIFIED
from sync_worker.kernel.clock import parse_datetime
from sync_worker.kernel.errors import PermanentError
from sync_worker.kernel.model import DealRecord

__all__ = [
    "deal_from_json",
    "pipeline_from_json",
    "property_from_json",
    "results_of",
    "user_from_json",
]


def _mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, dict) else {}


def results_of(body: Mapping[str, object]) -> list[Mapping[str, object]]:
    """The ``results`` list of a response body, keeping only JSON objects."""
    results = body.get("results")
    return [r for r in results if isinstance(r, dict)] if isinstance(results, list) else []


def _raw_value(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _newest_timestamps(history: Mapping[str, object]) -> dict[str, datetime]:
    """For each property, when its newest history entry was written."""
    stamps: dict[str, datetime] = {}
    for name, entries in history.items():
        moments = [
            parse_datetime(_mapping(entry).get("timestamp"))
            for entry in (entries if isinstance(entries, list) else [])
        ]
        known = [m for m in moments if m is not None]
        if known:
            stamps[name] = max(known)
    return stamps


def deal_from_json(raw: Mapping[str, object], requested: Sequence[str] = ()) -> DealRecord:
    """A ``SimplePublicObject`` as a :class:`DealRecord`. Requested properties HubSpot left out
    (the docs disagree on whether empty values are ``null`` or absent) come back as ``None``."""
    props = _mapping(raw.get("properties"))
    properties = dict.fromkeys(requested) | {str(k): _raw_value(v) for k, v in props.items()}
    modified = parse_datetime(props.get(MODIFIED)) or parse_datetime(raw.get("updatedAt"))
    if modified is None:
        raise PermanentError(f"deal {raw.get('id')!r} has neither {MODIFIED} nor updatedAt")
    return DealRecord(
        id=str(raw.get("id")),
        properties=properties,
        modified_at=modified,
        property_timestamps=_newest_timestamps(_mapping(raw.get("propertiesWithHistory"))),
        archived=bool(raw.get("archived", False)),
    )


def user_from_json(raw: Mapping[str, object]) -> User | None:
    """An owner as a :class:`User` (``active=False`` when archived, i.e. deactivated);
    ``None`` for owners without an email (queues)."""
    email = raw.get("email")
    if not isinstance(email, str) or not email.strip():
        return None
    names = (raw.get("firstName"), raw.get("lastName"))
    name = " ".join(n.strip() for n in names if isinstance(n, str) and n.strip())
    return User(
        id=str(raw.get("id")),
        email=email.strip().lower(),
        name=name,
        active=not raw.get("archived"),
    )


def pipeline_from_json(raw: Mapping[str, object]) -> Pipeline:
    stages = raw.get("stages")
    return Pipeline(
        id=str(raw.get("id")),
        label=str(raw.get("label", "")),
        stages=tuple(
            Stage(id=str(_mapping(s).get("id")), label=str(_mapping(s).get("label", "")))
            for s in (stages if isinstance(stages, list) else [])
            if not _mapping(s).get("archived")
        ),
    )


def property_from_json(raw: Mapping[str, object]) -> PropertyDef:
    options = raw.get("options")
    metadata = _mapping(raw.get("modificationMetadata"))
    extra = {
        key: str(raw[key])
        for key in ("label", "groupName", "referencedObjectType", "externalOptions", "calculated")
        if raw.get(key) is not None
    }
    return PropertyDef(
        name=str(raw.get("name")),
        type=str(raw.get("type", "string")),
        field_type=str(raw.get("fieldType", "text")),
        options=tuple(
            str(_mapping(o).get("value")) for o in (options if isinstance(options, list) else [])
        ),
        read_only=bool(metadata.get("readOnlyValue", False)),
        unique=bool(raw.get("hasUniqueValue", False)),
        extra=extra,
    )
