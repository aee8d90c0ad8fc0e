"""What a fresh HubSpot portal has, as the in-process backends model it.

HubSpot's standard deal properties (plus the default mapping's custom ones), its default deal
pipeline (plus a "referred deals" pipeline), and the per-value checks HubSpot applies when a
property is written (numbers must parse, enumeration values must be options).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from sync_worker.connectors.base import Pipeline, PropertyDef, Stage, User

__all__ = [
    "COLLABORATORS",
    "DEFAULT_PIPELINES",
    "DEFAULT_PROPERTIES",
    "PRODUCTS",
    "PortalRules",
    "Predicate",
    "Rejection",
    "value_problem",
]

Predicate = Callable[[str], bool]

CREATED, MODIFIED, OBJECT_ID = "createdate", "hs_lastmodifieddate", "hs_object_id"
COLLABORATORS = "hs_all_collaborator_owner_ids"
OWNER_PROPERTIES = frozenset({"hubspot_owner_id", COLLABORATORS})
"""Properties holding owner ids (enumerations whose options are the portal's active owners)."""

PRODUCTS = (
    "Sales Hub Professional",
    "Sales Hub Enterprise",
    "Marketing Hub Professional",
    "Marketing Hub Enterprise",
    "Service Hub Professional",
    "CRM Suite Starter",
    "Smart CRM Professional",
    "Data Hub Starter",
    "Commerce Hub Enterprise",
    "HubSpot CMS",
)


def _prop(
    name: str,
    kind: str = "string",
    field_type: str = "text",
    *,
    options: tuple[str, ...] = (),
    read_only: bool = False,
    unique: bool = False,
) -> PropertyDef:
    return PropertyDef(name, kind, field_type, options, read_only=read_only, unique=unique)


DEFAULT_PROPERTIES: tuple[PropertyDef, ...] = (
    _prop("dealname"),
    _prop("amount", "number", "number"),
    _prop("closedate", "datetime", "date"),
    _prop("pipeline", "enumeration", "select"),
    _prop("dealstage", "enumeration", "radio"),
    _prop("hubspot_owner_id", "enumeration", "select"),
    _prop(COLLABORATORS, "enumeration", "checkbox"),
    _prop(CREATED, "datetime", "date", read_only=True),
    _prop(MODIFIED, "datetime", "date", read_only=True),
    _prop(OBJECT_ID, "number", "number", read_only=True),
    _prop("hs_num_associated_active_deal_registrations", "number", "number", read_only=True),
    _prop("shared_partner_account"),
    _prop("rep_deal_id", unique=True),
    _prop("partner_deal_id", unique=True),
    _prop("shared_deal_team", "string", "textarea"),
    _prop("product_interest", "enumeration", "checkbox", options=PRODUCTS),
)
"""HubSpot's standard deal properties plus the default mapping's custom ones."""

DEFAULT_PIPELINES: tuple[Pipeline, ...] = (
    Pipeline(
        "default",
        "Sales Pipeline",
        tuple(
            Stage(s, s)
            for s in (
                "appointmentscheduled",
                "qualifiedtobuy",
                "presentationscheduled",
                "decisionmakerboughtin",
                "contractsent",
                "closedwon",
                "closedlost",
            )
        ),
    ),
    Pipeline(
        "referred_deals",
        "Referred deals",
        (
            Stage("referred_new", "New"),
            Stage("referred_won", "Won"),
            Stage("referred_lost", "Lost"),
        ),
    ),
)


def value_problem(definition: PropertyDef, value: str, options: tuple[str, ...]) -> str | None:
    """Why ``value`` is not a valid ``definition`` value given the allowed ``options``."""
    if definition.type == "number":
        try:
            float(value)
        except ValueError:
            return f"INVALID_FLOAT: {value!r} is not a valid number for {definition.name}"
        return None
    if definition.type == "enumeration" and options:
        chosen = (
            [v for v in value.split(";") if v] if definition.field_type == "checkbox" else [value]
        )
        bad = [v for v in chosen if v not in options]
        if bad:
            return (
                f"INVALID_OPTION: {bad[0]} was not one of the allowed options for {definition.name}"
            )
    return None


@dataclass(frozen=True, slots=True)
class Rejection:
    """An injected validation rule: writing ``name`` with a value passing ``test`` fails."""

    name: str
    test: Predicate
    message: str


class PortalRules:
    """The write checks of one portal: property definitions, options that come from pipelines
    and owners, unique values, and injected rejections. Not locked: its owner locks."""

    def __init__(
        self,
        properties: Iterable[PropertyDef],
        users: Iterable[User],
        pipelines: Iterable[Pipeline],
    ) -> None:
        self.defs = {p.name: p for p in properties}
        self.users = tuple(users)
        self.pipelines = tuple(pipelines)
        self.rejections: list[Rejection] = []

    def problem(
        self,
        values: Mapping[str, str],
        *,
        holder: Callable[[str, str], str | None],
        deal_id: str | None,
    ) -> str | None:
        """Why writing ``values`` to ``deal_id`` (``None``: a new deal) fails, or ``None``.
        ``holder(name, value)`` is the id of the live deal holding a unique value, if any."""
        rejected = [
            r.message for r in self.rejections if r.name in values and r.test(values[r.name])
        ]
        problems = [p for name, v in values.items() if (p := self._check(name, v, holder, deal_id))]
        if deal_id is None:
            problems += [
                f"REQUIRED: {name} is required to create a deal" for name in _missing(values)
            ]
        if problems:
            rejected.append(
                "VALIDATION_ERROR: Property values were not valid: " + "; ".join(problems)
            )
        return "; ".join(rejected) or None

    def invalid(
        self,
        values: Mapping[str, str],
        *,
        holder: Callable[[str, str], str | None],
        deal_id: str | None,
    ) -> tuple[str, ...]:
        """The names of the properties :meth:`problem` objects to."""
        injected = [r.name for r in self.rejections if r.name in values and r.test(values[r.name])]
        checked = [name for name, v in values.items() if self._check(name, v, holder, deal_id)]
        required = _missing(values) if deal_id is None else []
        return tuple(dict.fromkeys(injected + checked + required))

    def _check(
        self, name: str, value: str, holder: Callable[[str, str], str | None], deal_id: str | None
    ) -> str | None:
        definition = self.defs.get(name)
        if definition is None:
            return f'PROPERTY_DOESNT_EXIST: Property "{name}" does not exist'
        if definition.read_only:
            return f'READ_ONLY_VALUE: "{name}" is a read only property'
        if value == "":
            return None
        problem = value_problem(definition, value, self.options(definition))
        if problem is None and definition.unique:
            other = holder(name, value)
            if other is not None and other != deal_id:
                return f'CONFLICT: "{name}" value {value!r} is already used by deal {other}'
        return problem

    def options(self, definition: PropertyDef) -> tuple[str, ...]:
        """Allowed values of an enumeration; pipeline, stage and owner come from elsewhere."""
        if definition.name == "pipeline":
            return tuple(p.id for p in self.pipelines)
        if definition.name == "dealstage":
            return tuple(s.id for p in self.pipelines for s in p.stages)
        if definition.name in OWNER_PROPERTIES:  # active owners only, as HubSpot checks
            return tuple(u.id for u in self.users if u.active)
        return definition.options


REQUIRED_TO_CREATE = ("dealname", "dealstage")
"""HubSpot's object guide: a deal is created with a name and a stage (and a pipeline, which
its deals guide lets default)."""


def _missing(values: Mapping[str, str]) -> list[str]:
    return [name for name in REQUIRED_TO_CREATE if not values.get(name)]
