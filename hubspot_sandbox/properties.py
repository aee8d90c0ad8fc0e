"""Deal property definitions of a portal and the validation HubSpot applies to written values.

Values travel as strings. The sandbox normalises what it stores the way HubSpot returns values
(assumptions, reference §6): numbers lose trailing zeros (``"1500.00"`` -> ``"1500"``),
datetimes given as epoch ms or ISO-8601 come back as ISO-8601 UTC with milliseconds, ``date``
values as ``YYYY-MM-DD``. A sync that compares raw strings sees this as a difference.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

from hubspot_sandbox.errors import PropertyProblem, invalid_properties
from hubspot_sandbox.spec import Owner, Pipeline, PropertyDef

REGISTRATIONS = "hs_num_associated_active_deal_registrations"
COLLABORATORS = "hs_all_collaborator_owner_ids"
OWNER_PROPERTIES = ("hubspot_owner_id", COLLABORATORS)
"""Enumerations of owner ids; their options are the portal's active owners (reference §6)."""
READ_ONLY_SYSTEM = ("hs_object_id", "hs_lastmodifieddate", REGISTRATIONS)
ALWAYS_RETURNED = ("hs_object_id", "createdate", "hs_lastmodifieddate")
DEFAULT_RETURNED = ("dealname", "amount", "closedate", "pipeline", "dealstage", *ALWAYS_RETURNED)

STANDARD_PROPERTIES: tuple[PropertyDef, ...] = (
    PropertyDef("dealname", "Deal Name", hubspot_defined=True),
    PropertyDef("amount", "Amount", "number", "number", hubspot_defined=True),
    PropertyDef("closedate", "Close Date", "datetime", "date", hubspot_defined=True),
    PropertyDef("pipeline", "Pipeline", "enumeration", "select", hubspot_defined=True),
    PropertyDef("dealstage", "Deal Stage", "enumeration", "radio", hubspot_defined=True),
    PropertyDef("createdate", "Create Date", "datetime", "date", hubspot_defined=True),
    PropertyDef(
        "hs_lastmodifieddate",
        "Last Modified Date",
        "datetime",
        "date",
        read_only=True,
        hubspot_defined=True,
    ),
    PropertyDef(
        "hs_object_id", "Record ID", "number", "number", read_only=True, hubspot_defined=True
    ),
    PropertyDef(
        "hubspot_owner_id",
        "Deal owner",
        "enumeration",
        "select",
        hubspot_defined=True,
    ),
    PropertyDef(
        COLLABORATORS, "Deal Collaborator", "enumeration", "checkbox", hubspot_defined=True
    ),
    PropertyDef(
        REGISTRATIONS,
        "Number of Active Deal Registrations",
        "number",
        "number",
        read_only=True,
        calculated=True,
        hubspot_defined=True,
    ),
)


@functools.lru_cache(maxsize=65536)
def iso_ms(epoch_ms: int) -> str:
    """Epoch ms -> HubSpot's ISO form, e.g. ``2024-01-17T19:55:04.281Z``."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


@functools.lru_cache(maxsize=65536)
def parse_datetime_ms(text: str) -> int | None:
    """Epoch ms (digits) or ISO-8601 (``Z``/offset/date only) -> epoch ms; None if neither."""
    text = text.strip()
    if text.lstrip("-").isdigit() and text.isascii():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def parse_number(text: str) -> Decimal | None:
    try:
        number = Decimal(text.strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def canonical_number(number: Decimal) -> str:
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "0") else text


@dataclass(frozen=True, slots=True)
class Catalog:
    """The immutable part of a portal's deal schema: definitions, pipelines and the options
    that do not depend on owners. Portals built from equal specs share one (a sandbox of 1,000
    partner portals holds one copy); read-only views, so no portal can change another's."""

    defs: Mapping[str, PropertyDef]
    pipelines: Mapping[str, Pipeline]
    unique: tuple[str, ...]
    options: Mapping[str, tuple[str, ...]]
    stages: Mapping[str, tuple[str, ...]]
    default_pipeline: str


@functools.lru_cache(maxsize=256)
def catalog(custom: tuple[PropertyDef, ...], pipelines: tuple[Pipeline, ...]) -> Catalog:
    """The shared :class:`Catalog` of these custom properties and pipelines."""
    if not pipelines:
        raise ValueError("a portal needs at least one deal pipeline")
    defs = {p.name: p for p in (*STANDARD_PROPERTIES, *custom)}
    by_id = {p.id: p for p in pipelines}
    options = {p.name: tuple(o.value for o in p.options) for p in defs.values()}
    options["pipeline"] = tuple(by_id)
    return Catalog(
        defs=MappingProxyType(defs),
        pipelines=MappingProxyType(by_id),
        unique=tuple(p.name for p in defs.values() if p.unique),
        options=MappingProxyType(options),
        stages=MappingProxyType({p.id: tuple(s.id for s in p.stages) for p in pipelines}),
        default_pipeline=pipelines[0].id,
    )


class PropertyBook:
    """The deal properties of one portal, plus pipelines and owners for the external options.

    The definitions and pipelines are the shared :class:`Catalog`; only the owners (whose ids
    are the options of the owner properties, and change at run time) are the portal's own."""

    def __init__(
        self,
        custom: Sequence[PropertyDef],
        pipelines: Sequence[Pipeline],
        owners: Sequence[Owner],
    ) -> None:
        shared = catalog(tuple(custom), tuple(pipelines))
        self.defs: Mapping[str, PropertyDef] = shared.defs
        self.pipelines: Mapping[str, Pipeline] = shared.pipelines
        self.unique: tuple[str, ...] = shared.unique
        self.default_pipeline = shared.default_pipeline
        self._catalog = shared
        self.set_owners(owners)

    def set_owners(self, owners: Sequence[Owner]) -> None:
        """Owner properties accept the ids of active owners only: a deactivated (archived)
        owner's id is an INVALID_OPTION, like any id of another portal (assumption: HubSpot
        offers only active users in its pickers and documents no other rule)."""
        self.owner_ids: tuple[str, ...] = tuple(o.id for o in owners if not o.archived)

    def allowed_options(self, prop: PropertyDef, pipeline_id: str | None) -> tuple[str, ...]:
        if prop.name == "dealstage":
            return self._catalog.stages.get(pipeline_id or self.default_pipeline, ())
        if prop.name in OWNER_PROPERTIES:
            return self.owner_ids
        return self._catalog.options[prop.name]

    def validate(self, raw: Mapping[str, Any], *, pipeline_id: str | None) -> dict[str, str]:
        """Check and normalise written values; "" means "clear". Raises a 400 listing every problem.

        ``pipeline_id`` is the deal's current pipeline; a ``pipeline`` in ``raw`` takes precedence
        when checking ``dealstage``. JSON numbers/booleans are accepted and turned into strings;
        ``null`` clears like "" (assumption).
        """
        problems: list[PropertyProblem] = []
        values: dict[str, str] = {}
        texts = {name: _as_text(value) for name, value in raw.items()}
        target_pipeline = texts.get("pipeline") or pipeline_id
        for name, text in texts.items():
            result = self._check(name, text, target_pipeline)
            if isinstance(result, PropertyProblem):
                problems.append(result)
            else:
                values[name] = result
        if problems:
            raise invalid_properties(problems)
        return values

    def _check(self, name: str, text: str, pipeline_id: str | None) -> str | PropertyProblem:
        prop = self.defs.get(name)
        if prop is None:
            return PropertyProblem(
                name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist'
            )
        if prop.read_only:
            message = f'"{name}" is a read only property; its value cannot be set.'
            return PropertyProblem(name, "READ_ONLY_VALUE", message)
        if text == "" or prop.type == "string":
            return text
        allowed = self.allowed_options(prop, pipeline_id) if prop.type == "enumeration" else ()
        return _normalise(prop, text, allowed)


@functools.lru_cache(maxsize=16384)
def _normalise(prop: PropertyDef, text: str, allowed: tuple[str, ...]) -> str | PropertyProblem:
    """Normalise a non-empty, non-string value (cached: imports repeat the same values)."""
    if prop.type == "number":
        number = parse_number(text)
        if number is None:
            return PropertyProblem(prop.name, "INVALID_DECIMAL", f"{text} was not a valid number.")
        return canonical_number(number)
    if prop.type in ("datetime", "date"):
        return _normalise_date(prop, text)
    if prop.type == "enumeration":
        return _check_options(prop, text, allowed)
    return text


def _check_options(prop: PropertyDef, text: str, allowed: tuple[str, ...]) -> str | PropertyProblem:
    chosen = [part for part in text.split(";") if part] if prop.field_type == "checkbox" else [text]
    for value in chosen:
        if value not in allowed:
            message = f"{value} was not one of the allowed options: [{', '.join(allowed)}]"
            return PropertyProblem(prop.name, "INVALID_OPTION", message)
    return ";".join(chosen)


def _normalise_date(prop: PropertyDef, text: str) -> str | PropertyProblem:
    epoch_ms = parse_datetime_ms(text)
    if epoch_ms is None:
        return PropertyProblem(prop.name, "INVALID_DATE", f"{text} is not a valid date/time.")
    if prop.type == "datetime":
        return iso_ms(epoch_ms)
    if epoch_ms % 86_400_000:
        return PropertyProblem(prop.name, "INVALID_DATE", f"{text} is not at midnight UTC.")
    return iso_ms(epoch_ms)[:10]


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def definition_json(prop: PropertyDef, options: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """One property as ``GET /crm/v3/properties/deals`` returns it."""
    external = prop.name in ("pipeline", "dealstage", *OWNER_PROPERTIES)
    return {
        "name": prop.name,
        "label": prop.label,
        "type": prop.type,
        "fieldType": prop.field_type,
        "groupName": prop.group,
        "description": "",
        "options": [
            {"label": label, "value": value, "displayOrder": i, "hidden": False}
            for i, (label, value) in enumerate(options)
        ],
        "displayOrder": -1,
        "calculated": prop.calculated,
        "externalOptions": external,
        "hasUniqueValue": prop.unique,
        "hidden": False,
        "hubspotDefined": prop.hubspot_defined,
        "formField": not prop.read_only,
        "archived": False,
        "modificationMetadata": {
            "archivable": not prop.hubspot_defined,
            "readOnlyDefinition": prop.hubspot_defined,
            "readOnlyValue": prop.read_only,
        },
        **({"referencedObjectType": "OWNER"} if prop.name in OWNER_PROPERTIES else {}),
    }
