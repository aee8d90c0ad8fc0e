"""Mapping files -> one validated, compiled :class:`SyncMapping`.

A mapping file (TOML, see ``mappings/hubspot_shared_deals.toml``) names the link properties, which
sides may originate shared deals, the scope filters, the constants written on creation and, per
field, its type, property names, direction, conflict rule, value maps and creation defaults.

:func:`load_mapping` is the only entry point. The file is checked by pydantic models
(``extra="forbid"``) and then by cross-field rules; every problem becomes one line of one
:class:`~sync_worker.errors.ConfigError`, naming the file, the key path (``fields.amount.rule``)
and the valid choices. The result is plain frozen dataclasses whose per-side codecs are built once,
so the reconciler's hot loop only calls precomputed closures.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from connectors.base import Filter
from sync_worker.canonical import (
    MAPPABLE_TYPES,
    FieldType,
    RejectedValueError,
    SideCodec,
    make_codec,
)
from sync_worker.errors import ConfigError
from sync_worker.model import Side

__all__ = [
    "Direction",
    "FieldMapping",
    "Rule",
    "SyncMapping",
    "compile_mapping",
    "load_mapping",
]


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


class MappingFile(_Strict):
    mapping: MappingMeta
    links: LinksModel
    origins: OriginsModel = Field(default_factory=OriginsModel)
    scope: ScopeModel = Field(default_factory=ScopeModel)
    create: PerSideConstants = Field(default_factory=PerSideConstants)
    fields: dict[str, FieldModel] = Field(min_length=1)


# --- the compiled mapping (what the core uses) --------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldMapping:
    """One mapped field, with each side's codec built once at load time."""

    name: str
    type: FieldType
    partner: str
    rep: str
    direction: Direction
    rule: Rule
    partner_codec: SideCodec
    rep_codec: SideCodec
    partner_default: str | None = None
    rep_default: str | None = None

    def property_on(self, side: Side) -> str:
        return self.partner if side is Side.PARTNER else self.rep

    def codec(self, side: Side) -> SideCodec:
        return self.partner_codec if side is Side.PARTNER else self.rep_codec

    def default(self, side: Side) -> str | None:
        """The raw value written on ``side`` when creating a counterpart there, if any."""
        return self.partner_default if side is Side.PARTNER else self.rep_default

    def allows(self, source: Side) -> bool:
        """Whether this field's values may be copied from ``source`` to the other side."""
        return self.direction.allows(source)


@dataclass(frozen=True, slots=True)
class SyncMapping:
    """A validated mapping: links, origins, scope, creation constants and fields."""

    name: str
    description: str
    partner_link: str
    rep_link: str
    origins: frozenset[Side]
    partner_scope: tuple[Filter, ...]
    rep_scope: tuple[Filter, ...]
    partner_create: Mapping[str, str]
    rep_create: Mapping[str, str]
    fields: tuple[FieldMapping, ...]

    def link_property(self, side: Side) -> str:
        """The property on ``side``'s deals holding the counterpart's id (unique, upsert key)."""
        return self.partner_link if side is Side.PARTNER else self.rep_link

    def scope(self, side: Side) -> tuple[Filter, ...]:
        return self.partner_scope if side is Side.PARTNER else self.rep_scope

    def create_constants(self, side: Side) -> Mapping[str, str]:
        """Properties written on ``side`` whenever a counterpart is created there."""
        return self.partner_create if side is Side.PARTNER else self.rep_create

    def properties(self, side: Side) -> tuple[str, ...]:
        """Every property to fetch on ``side``: the link property, then each mapped field's."""
        return (self.link_property(side), *(f.property_on(side) for f in self.fields))

    def field(self, name: str) -> FieldMapping:
        """The field called ``name``; ``KeyError`` if there is none."""
        for candidate in self.fields:
            if candidate.name == name:
                return candidate
        raise KeyError(name)

    def may_originate(self, side: Side) -> bool:
        """Whether deals created on ``side`` get a counterpart on the other side."""
        return side in self.origins


# --- loading ------------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def load_mapping(path: Path, *, context: Mapping[str, str] | None = None) -> SyncMapping:
    """Read, validate and compile the mapping file at ``path``.

    ``{name}`` placeholders in scope values and creation constants are filled from ``context``
    (a pair supplies ``partner_account``). Raises :class:`ConfigError` listing every problem:
    unreadable file, TOML syntax (with its line), unknown or missing keys, invalid choices,
    invalid combinations and unknown placeholders.
    """
    source = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(
            f"cannot read mapping file: {exc.strerror or exc}", source=source
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", source=source) from None
    return compile_mapping(data, context=context, source=source)


def compile_mapping(
    data: Mapping[str, Any], *, context: Mapping[str, str] | None = None, source: str | None = None
) -> SyncMapping:
    """Validate already-parsed mapping data (as :func:`load_mapping` does after reading TOML)."""
    try:
        model = MappingFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, MappingFile), source=source) from None
    problems = check_file(model)
    filled = _Filler(context or {})
    compiled = _compile(model, filled)
    problems.extend(filled.problems)
    if problems:
        raise ConfigError(problems, source=source)
    return compiled


class _Filler:
    """Fills ``{placeholder}`` strings from the context, collecting unknown names as problems."""

    def __init__(self, context: Mapping[str, str]) -> None:
        self.context = context
        self.problems: list[str] = []

    def __call__(self, text: str, key_path: str) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in self.context:
                return self.context[name]
            known = ", ".join(sorted(self.context)) or "none (no context given)"
            self.problems.append(f"{key_path}: unknown placeholder {{{name}}}; known: {known}")
            return match.group(0)

        return _PLACEHOLDER.sub(replace, text)


def _compile(model: MappingFile, fill: _Filler) -> SyncMapping:
    origins = {side for side in Side if getattr(model.origins, side.value)}
    return SyncMapping(
        name=model.mapping.name,
        description=model.mapping.description,
        partner_link=model.links.partner_property,
        rep_link=model.links.rep_property,
        origins=frozenset(origins),
        partner_scope=_filters(model.scope.partner, "scope.partner", fill),
        rep_scope=_filters(model.scope.rep, "scope.rep", fill),
        partner_create=_constants(model.create.partner, "create.partner", fill),
        rep_create=_constants(model.create.rep, "create.rep", fill),
        fields=tuple(_field(name, spec) for name, spec in model.fields.items()),
    )


def _filters(models: list[FilterModel], key: str, fill: _Filler) -> tuple[Filter, ...]:
    return tuple(
        Filter(
            property=item.property,
            operator=item.operator,
            value=None if item.value is None else fill(item.value, f"{key}[{i}].value"),
            values=tuple(fill(v, f"{key}[{i}].values[{j}]") for j, v in enumerate(item.values)),
        )
        for i, item in enumerate(models)
    )


def _constants(values: Mapping[str, str], key: str, fill: _Filler) -> dict[str, str]:
    return {name: fill(value, f"{key}.{name}") for name, value in values.items()}


def _field(name: str, spec: FieldModel) -> FieldMapping:
    return FieldMapping(
        name=name,
        type=spec.type,
        partner=spec.partner,
        rep=spec.rep,
        direction=spec.direction,
        rule=spec.rule,
        partner_codec=make_codec(
            spec.type, spec.value_map.partner, label=f"fields.{name}.value_map.partner"
        ),
        rep_codec=make_codec(spec.type, spec.value_map.rep, label=f"fields.{name}.value_map.rep"),
        partner_default=spec.default.partner,
        rep_default=spec.default.rep,
    )


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


def _check_field(key: str, spec: FieldModel) -> list[str]:
    problems: list[str] = []
    if spec.rule is Rule.OWNED_SET and spec.type is not FieldType.USER_SET:
        problems.append(f'{key}.type: rule owned_set needs type "user_set" (got "{spec.type}")')
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
    for name, spec in model.fields.items():
        prop = getattr(spec, side.value)
        key = f"fields.{name}.{side.value}"
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


def _check_filter(key: str, item: FilterModel) -> list[str]:
    if item.operator in _OPERATORS_WITHOUT_VALUE:
        needs, has = "neither value nor values", item.value is None and not item.values
    elif item.operator in _OPERATORS_WITH_VALUES:
        needs, has = "values (a list)", item.value is None and bool(item.values)
    else:
        needs, has = "value (a string)", item.value is not None and not item.values
    return [] if has else [f"{key}: operator {item.operator} takes {needs}"]


# --- pydantic errors as one readable line each --------------------------------------------------


def describe_validation_error(error: ValidationError, root: type[BaseModel]) -> list[str]:
    """One ``key.path: problem`` line per pydantic error, with the valid choices where known."""
    return [_describe(detail, root) for detail in error.errors()]


def _describe(detail: Any, root: type[BaseModel]) -> str:
    loc: tuple[str | int, ...] = detail["loc"]
    key = _key_path(loc) or "(top level)"
    kind = detail["type"]
    if kind == "extra_forbidden":
        parent = _model_at(root, loc[:-1])
        valid = ", ".join(parent.model_fields) if parent else "see the documentation"
        return f"{key}: unknown key; valid keys here: {valid}"
    if kind == "missing":
        return f"{key}: required key is missing"
    message = detail["msg"]
    if "input" in detail and kind not in ("too_short",):
        message += f" (got {detail['input']!r})"
    return f"{key}: {message}"


def _key_path(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _model_at(root: type[BaseModel], loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The model class found at ``loc`` (through dicts and lists of models), if any."""
    current: Any = root
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(str(part))
            current = info.annotation if info else None
        else:
            args = [arg for arg in get_args(current) if arg is not type(None)]
            current = args[-1] if args else None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None
