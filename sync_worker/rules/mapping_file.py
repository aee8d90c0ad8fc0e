"""The mapping file's schema and checks: pydantic models at the boundary and cross-field rules
(:mod:`sync_worker.rules.mapping_errors` turns pydantic's errors into one readable line each).

:mod:`sync_worker.rules.mapping` compiles a checked file into the frozen :class:`SyncMapping` the
core uses; nothing else should need this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sync_worker.kernel.canonical import MAPPABLE_TYPES, FieldType, make_codec
from sync_worker.kernel.errors import RejectedValueError
from sync_worker.kernel.model import Side


class Direction(StrEnum):
    """Which way a field's values may flow."""

    BOTH = "both"
    PARTNER_TO_REP = "partner_to_rep"
    REP_TO_PARTNER = "rep_to_partner"
    NONE = "none"

    def allows(self, source: Side) -> bool:
        """Whether a value may be copied *from* ``source`` to the other side."""
        if self is Direction.BOTH:
            return True
        if source is Side.PARTNER:
            return self is Direction.PARTNER_TO_REP
        return self is Direction.REP_TO_PARTNER


class Rule(StrEnum):
    """How a field settles a conflict (both sides changed it differently)."""

    PARTNER_WINS = "partner_wins"
    REP_WINS = "rep_wins"
    NEWEST_WINS = "newest_wins"
    SET_ON_CREATE = "set_on_create"
    OWNED_SET = "owned_set"
    MANUAL = "manual"


# --- the file's schema (pydantic, at the boundary only) -----------------------------------------

Operator = Literal[
    "EQ", "NEQ", "GT", "GTE", "LT", "LTE", "IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY"
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MappingMeta(_Strict):
    name: str = Field(min_length=1)
    description: str = ""


class LinksModel(_Strict):
    partner_property: str = Field(min_length=1)
    rep_property: str = Field(min_length=1)
    partner_value: str = "{id}"
    rep_value: str = "{id}"

    @field_validator("partner_value", "rep_value")
    @classmethod
    def _one_id(cls, value: str) -> str:
        if value.count("{id}") != 1:
            raise ValueError("must contain {id} (the counterpart's id) exactly once")
        return value


class OriginsModel(_Strict):
    partner: bool = True
    rep: bool = True


class FilterModel(_Strict):
    property: str = Field(min_length=1)
    operator: Operator
    value: str | None = None
    values: list[str] = Field(default_factory=list)


class ScopeModel(_Strict):
    partner: list[FilterModel] = Field(default_factory=list)
    rep: list[FilterModel] = Field(default_factory=list)


class PerSideConstants(_Strict):
    partner: dict[str, str] = Field(default_factory=dict)
    rep: dict[str, str] = Field(default_factory=dict)


class PerSideValueMap(_Strict):
    partner: dict[str, str] | None = None
    rep: dict[str, str] | None = None


class PerSideDefault(_Strict):
    partner: str | None = None
    rep: str | None = None


class PerSideProperty(_Strict):
    partner: str = Field(min_length=1)
    rep: str = Field(min_length=1)


class FieldModel(_Strict):
    type: FieldType
    partner: str = Field(min_length=1)
    rep: str = Field(min_length=1)
    direction: Direction
    # Only consulted when both sides changed a value differently; the domain's default is
    # "newest edit wins", and a field with direction "none" never consults it.
    rule: Rule = Rule.NEWEST_WINS
    value_map: PerSideValueMap = Field(default_factory=PerSideValueMap)
    default: PerSideDefault = Field(default_factory=PerSideDefault)
    # Only for type "deal_team": the text property showing the whole team on each side, and
    # (optional) the deal-owner property whose owner then counts as a member of that side.
    display: PerSideProperty | None = None
    deal_owner: PerSideProperty | None = None


class MappingFile(_Strict):
    mapping: MappingMeta
    links: LinksModel
    origins: OriginsModel = Field(default_factory=OriginsModel)
    scope: ScopeModel = Field(default_factory=ScopeModel)
    create: PerSideConstants = Field(default_factory=PerSideConstants)
    fields: dict[str, FieldModel] = Field(min_length=1)


# --- checks beyond the schema: one line per problem ---------------------------------------------

_OPERATORS_WITHOUT_VALUE = frozenset({"HAS_PROPERTY", "NOT_HAS_PROPERTY"})
_OPERATORS_WITH_VALUES = frozenset({"IN", "NOT_IN"})
_FORBIDDEN_RULE = {
    Direction.PARTNER_TO_REP: Rule.REP_WINS,
    Direction.REP_TO_PARTNER: Rule.PARTNER_WINS,
}


def check_file(model: MappingFile) -> list[str]:
    """Problems the schema alone cannot see: invalid combinations and clashing names."""
    problems: list[str] = []
    for name, spec in model.fields.items():
        problems.extend(_check_field(f"fields.{name}", spec))
    for side in Side:
        problems.extend(_check_names(model, side))
        scope: list[FilterModel] = getattr(model.scope, side.value)
        for i, item in enumerate(scope):
            problems.extend(_check_filter(f"scope.{side.value}[{i}]", item))
    return problems


_OWNED_SET_TYPES = (FieldType.USER_SET, FieldType.DEAL_TEAM)


def _check_team(key: str, spec: FieldModel) -> list[str]:
    if spec.type is not FieldType.DEAL_TEAM:
        return [
            f'{key}.{name}: only a field of type "deal_team" has {name}'
            for name in ("display", "deal_owner")
            if getattr(spec, name) is not None
        ]
    problems = []
    if spec.rule is not Rule.OWNED_SET:
        problems.append(f'{key}.rule: type deal_team needs rule "owned_set" (got "{spec.rule}")')
    if spec.display is None:
        problems.append(
            f"{key}.display: type deal_team needs display.partner and display.rep (the text "
            "property showing the whole team on each side)"
        )
    if spec.default.partner is not None or spec.default.rep is not None:
        problems.append(f"{key}.default: a deal_team field takes no default")
    return problems


def _check_field(key: str, spec: FieldModel) -> list[str]:
    problems = _check_team(key, spec)
    if spec.rule is Rule.OWNED_SET and spec.type not in _OWNED_SET_TYPES:
        problems.append(
            f'{key}.type: rule owned_set needs type "user_set" or "deal_team" (got "{spec.type}")'
        )
    if spec.rule is Rule.OWNED_SET and spec.direction is not Direction.BOTH:
        problems.append(f'{key}.direction: rule owned_set needs direction "both"')
    if _FORBIDDEN_RULE.get(spec.direction) is spec.rule:
        valid = ", ".join(r for r in Rule if r not in (spec.rule, Rule.OWNED_SET))
        problems.append(
            f"{key}.rule: {spec.rule} cannot apply with direction {spec.direction} (that side's "
            f"value never flows); valid rules for this direction: {valid}"
        )
    for side in Side:
        value_map = getattr(spec.value_map, side.value)
        if value_map is not None and spec.type not in MAPPABLE_TYPES:
            valid = ", ".join(sorted(MAPPABLE_TYPES))
            problems.append(
                f"{key}.value_map.{side.value}: value maps apply only to types {valid} "
                f'(got "{spec.type}")'
            )
            value_map = None
        problems.extend(_check_default(key, spec, side, value_map))
    return problems


def _check_default(
    key: str, spec: FieldModel, side: Side, value_map: Mapping[str, str] | None
) -> list[str]:
    default = getattr(spec.default, side.value)
    if default is None:
        return []
    try:
        make_codec(spec.type, value_map, label=f"{key}.value_map.{side.value}").read(default)
    except RejectedValueError as exc:
        return [f"{key}.default.{side.value}: {exc}"]
    return []


def _check_names(model: MappingFile, side: Side) -> list[str]:
    problems: list[str] = []
    link = getattr(model.links, f"{side.value}_property")
    owners: dict[str, str] = {}
    for key, prop in _field_properties(model, side):
        if prop == link:
            problems.append(
                f"{key}: {prop!r} is the link property links.{side.value}_property; "
                "a link property cannot also be a mapped field"
            )
        elif prop in owners:
            problems.append(f"{key}: property {prop!r} is already mapped by {owners[prop]}")
        owners.setdefault(prop, key)
    constants: Mapping[str, str] = getattr(model.create, side.value)
    for prop in constants:
        if prop == link or prop in owners:
            what = f"links.{side.value}_property" if prop == link else owners[prop]
            problems.append(
                f"create.{side.value}.{prop}: {prop!r} is set by {what}; "
                "a creation constant must name another property"
            )
    return problems


def _field_properties(model: MappingFile, side: Side) -> list[tuple[str, str]]:
    """(key path, property) of every property a field reads on ``side``."""
    found = []
    for name, spec in model.fields.items():
        found.append((f"fields.{name}.{side.value}", getattr(spec, side.value)))
        for extra in ("display", "deal_owner"):
            if (per_side := getattr(spec, extra)) is not None:
                found.append((f"fields.{name}.{extra}.{side.value}", getattr(per_side, side.value)))
    return found


def _check_filter(key: str, item: FilterModel) -> list[str]:
    if item.operator in _OPERATORS_WITHOUT_VALUE:
        needs, has = "neither value nor values", item.value is None and not item.values
    elif item.operator in _OPERATORS_WITH_VALUES:
        needs, has = "values (a list)", item.value is None and bool(item.values)
    else:
        needs, has = "value (a string)", item.value is not None and not item.values
    return [] if has else [f"{key}: operator {item.operator} takes {needs}"]
