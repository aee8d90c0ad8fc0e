"""Mapping files -> one validated, compiled :class:`SyncMapping`.

A mapping file (TOML, see ``mappings/hubspot_shared_deals.toml``) names the link properties, which
sides may originate shared deals, the scope filters, the constants written on creation and, per
field, its type, property names, direction, conflict rule, value maps and creation defaults.

:func:`load_mapping` is the only entry point. The file is checked by pydantic models
(``extra="forbid"``) and then by cross-field rules; every problem becomes one line of one
:class:`~sync_worker.kernel.errors.ConfigError`, naming the file, the key path
(``fields.amount.rule``)
and the valid choices. The result is plain frozen dataclasses whose per-side codecs are built once,
so the reconciler's hot loop only calls precomputed closures.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sync_worker.kernel.canonical import (
    FieldType,
    SideCodec,
    make_codec,
)
from sync_worker.kernel.errors import ConfigError
from sync_worker.kernel.filters import Filter
from sync_worker.kernel.model import BySide, Side
from sync_worker.rules.mapping_errors import describe_validation_error
from sync_worker.rules.mapping_file import (
    Direction,
    FieldModel,
    FilterModel,
    MappingFile,
    Rule,
    check_file,
)
from sync_worker.rules.mapping_team import TeamProperties, team_properties

__all__ = [
    "Direction",
    "FieldMapping",
    "Rule",
    "SyncMapping",
    "TeamProperties",
    "compile_mapping",
    "load_mapping",
]


# --- the compiled mapping (what the core uses) --------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldMapping:
    """One mapped field, with each side's codec built once at load time. ``team`` is set for a
    ``deal_team`` field, whose ``partner``/``rep`` properties hold each account's own members
    (owner ids) and whose team is shown in ``team.display``."""

    name: str
    type: FieldType
    partner: str
    rep: str
    direction: Direction
    rule: Rule
    codecs: BySide[SideCodec]
    defaults: BySide[str | None] = field(default_factory=lambda: BySide(None, None))
    team: TeamProperties | None = None

    def extra_properties(self, side: Side) -> tuple[str, ...]:
        """Properties beyond :meth:`property_on` this field reads on ``side`` (a deal team's
        display and owner properties)."""
        if self.team is None:
            return ()
        owner = self.team.owner(side)
        return (self.team.display(side), *((owner,) if owner else ()))

    def property_on(self, side: Side) -> str:
        return BySide(self.partner, self.rep)[side]

    def codec(self, side: Side) -> SideCodec:
        return self.codecs[side]

    def default(self, side: Side) -> str | None:
        """The raw value written on ``side`` when creating a counterpart there, if any."""
        return self.defaults[side]

    def allows(self, source: Side) -> bool:
        """Whether this field's values may be copied from ``source`` to the other side."""
        return self.direction.allows(source)


@dataclass(frozen=True, slots=True)
class LinkFormat:
    """How a link property value names a counterpart: a template around ``{id}``.

    ``"{id}"`` stores the bare id. The rep CRM holds many partner accounts' deals, so the default
    mapping stores ``"{partner_account}:{id}"`` there: two accounts' deals with the same id can
    never claim, or upsert over, each other's counterpart. A bare id is still read (a link written
    before the template, or by hand) and rewritten in the template's form.
    """

    prefix: str
    suffix: str

    def render(self, counterpart_id: str) -> str:
        return f"{self.prefix}{counterpart_id}{self.suffix}"

    def parse(self, stored: str) -> str | None:
        if stored.startswith(self.prefix) and stored.endswith(self.suffix):
            inner = stored[len(self.prefix) : len(stored) - len(self.suffix)]
            return inner or None
        if stored.isdigit():
            return stored  # a bare HubSpot id, written before the template or by hand
        return None

    @classmethod
    def of(cls, template: str) -> LinkFormat:
        prefix, _, suffix = template.partition("{id}")
        return cls(prefix, suffix)


@dataclass(frozen=True, slots=True)
class SyncMapping:
    """A validated mapping: links, origins, scope, creation constants and fields."""

    name: str
    description: str
    links: BySide[str]
    link_formats: BySide[LinkFormat]
    origins: frozenset[Side]
    scopes: BySide[tuple[Filter, ...]]
    creates: BySide[Mapping[str, str]]
    fields: tuple[FieldMapping, ...]

    def link_property(self, side: Side) -> str:
        """The property on ``side``'s deals holding the counterpart's id (unique, upsert key)."""
        return self.links[side]

    def link_value(self, side: Side, counterpart_id: str) -> str:
        """What ``side``'s deal stores in its link property to name ``counterpart_id``; also the
        upsert key when a counterpart is created on ``side``."""
        return self._format(side).render(counterpart_id)

    def counterpart_id(self, side: Side, stored: str | None) -> str | None:
        """The counterpart id a link property value of ``side`` names, or None (empty, or not in
        this mapping's form: e.g. a value another partner account's pair wrote)."""
        return self._format(side).parse(stored) if stored else None

    def _format(self, side: Side) -> LinkFormat:
        return self.link_formats[side]

    def scope(self, side: Side) -> tuple[Filter, ...]:
        return self.scopes[side]

    def create_constants(self, side: Side) -> Mapping[str, str]:
        """Properties written on ``side`` whenever a counterpart is created there."""
        return self.creates[side]

    def properties(self, side: Side) -> tuple[str, ...]:
        """Every property to fetch on ``side``: the link property, each mapped field's, then
        those the scope filters read (so a fetched deal's scope can be checked)."""
        names = [self.link_property(side)]
        for spec in self.fields:
            names += [spec.property_on(side), *spec.extra_properties(side)]
        names += [f.property for f in self.scope(side)]
        return tuple(dict.fromkeys(names))

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

    def keeping_id(self, text: str, key_path: str) -> str:
        """Fill every placeholder but ``{id}`` (the counterpart's id, known only per deal)."""
        head, _, tail = text.partition("{id}")
        return f"{self(head, key_path)}{{id}}{self(tail, key_path)}"


def _compile(model: MappingFile, fill: _Filler) -> SyncMapping:
    origins = {side for side in Side if getattr(model.origins, side.value)}
    return SyncMapping(
        name=model.mapping.name,
        description=model.mapping.description,
        links=BySide(model.links.partner_property, model.links.rep_property),
        link_formats=BySide(
            LinkFormat.of(fill.keeping_id(model.links.partner_value, "links.partner_value")),
            LinkFormat.of(fill.keeping_id(model.links.rep_value, "links.rep_value")),
        ),
        origins=frozenset(origins),
        scopes=BySide(
            _filters(model.scope.partner, "scope.partner", fill),
            _filters(model.scope.rep, "scope.rep", fill),
        ),
        creates=BySide(
            _constants(model.create.partner, "create.partner", fill),
            _constants(model.create.rep, "create.rep", fill),
        ),
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
        codecs=BySide(
            make_codec(spec.type, spec.value_map.partner, label=f"fields.{name}.value_map.partner"),
            make_codec(spec.type, spec.value_map.rep, label=f"fields.{name}.value_map.rep"),
        ),
        defaults=BySide(spec.default.partner, spec.default.rep),
        team=team_properties(spec),
    )
