"""``check`` online: do the credentials work, and does each CRM hold what the mapping names?

For each pair and side: the token is accepted (property definitions, pipelines and owners can
be read, deactivated owners too when the mapping has a deal team); every mapped property exists;
the link property exists and is unique (creations depend on it); nothing the worker writes is
read-only (a deal team's display included, which must be a text property); values it writes on
creation are among their enumeration's options; pipeline and stage defaults exist.

:func:`schema_problems` is the part that needs only the property definitions (one call per
credential, cached and shared by its pairs): ``once``, ``run`` and ``backfill`` run it before
syncing and refuse a pair it finds problems in, with the same lines ``check`` prints.
:func:`scope_warnings` names scope filters the worker cannot keep true on deals it creates.
"""

from __future__ import annotations

from collections.abc import Mapping

from sync_worker.connectors.base import Connector, PropertyDef
from sync_worker.kernel.errors import ConnectorError
from sync_worker.kernel.model import Side
from sync_worker.rules.mapping import SyncMapping
from sync_worker.rules.scope import created_values, unkept_filters
from sync_worker.sync.context import PairContext


def probe_pair(ctx: PairContext) -> list[str]:
    """Problems found for ``ctx``'s pair, one line each (empty when all is well)."""
    problems: list[str] = []
    for side in Side:
        connector = ctx.connector(side)
        try:
            definitions = connector.property_definitions()
            pipelines = _pipeline_stages(connector)
            connector.users()
            if any(spec.team is not None for spec in ctx.mapping.fields):
                connector.owners()  # deactivated owners too (scope crm.objects.owners.read)
        except ConnectorError as exc:
            problems.append(f"{side} ({connector.name}): cannot read the CRM: {exc}")
            continue
        problems += [
            f"{side} ({connector.name}): {p}"
            for p in _property_problems(ctx.mapping, side, definitions)
            + _default_problems(ctx.mapping, side, pipelines)
        ]
    return problems


def schema_problems(ctx: PairContext) -> list[str]:
    """What ``probe_pair`` finds from the property definitions alone: the lines a pair is
    refused with at start (a property missing, an option unknown...). A CRM that cannot be
    read is not judged here: the cycle fails on it and says why (a refused token pauses the
    pair, a daily limit postpones it)."""
    problems: list[str] = []
    for side in Side:
        connector = ctx.connector(side)
        try:
            definitions = connector.property_definitions()
        except ConnectorError:
            continue
        problems += [
            f"{side} ({connector.name}): {p}"
            for p in _property_problems(ctx.mapping, side, definitions)
        ]
    return problems


def scope_warnings(ctx: PairContext) -> list[str]:
    """Scope filters on a read-only or calculated property, which the worker cannot keep true
    on the deals it creates on that side (HubSpot's registration count, for one)."""
    warnings = []
    for side in Side:
        connector = ctx.connector(side)
        try:
            definitions = connector.property_definitions()
        except ConnectorError:
            continue  # probe_pair reports it
        for item in unkept_filters(ctx.mapping, side):
            definition = definitions.get(item.property)
            if definition is None or not _calculated_or_read_only(definition):
                continue
            warnings.append(
                f"{side} ({connector.name}): scope filter {item.describe()} names a read-only "
                f"or calculated property: deals the worker creates on this side never match "
                f"it. They are pulled by their link property ({ctx.mapping.link_property(side)})"
                f" instead, and a pair syncs while the side it was created on is in scope"
            )
    return warnings


def _calculated_or_read_only(definition: PropertyDef) -> bool:
    return definition.read_only or definition.extra.get("calculated", "").lower() == "true"


def _pipeline_stages(connector: Connector) -> dict[str, set[str]]:
    return {p.id: {s.id for s in p.stages} for p in connector.pipelines()}


def _written_properties(mapping: SyncMapping, side: Side) -> set[str]:
    written = {mapping.link_property(side), *mapping.create_constants(side)}
    for spec in mapping.fields:
        if spec.allows(side.other) or spec.default(side) is not None:
            written.add(spec.property_on(side))
        if spec.team is not None:
            written.add(spec.team.display(side))
    return written


def _property_problems(
    mapping: SyncMapping, side: Side, definitions: Mapping[str, PropertyDef]
) -> list[str]:
    problems = []
    for name in mapping.properties(side):
        if name not in definitions:
            problems.append(f"property {name!r} does not exist")
    link = definitions.get(mapping.link_property(side))
    if link is not None and not link.unique:
        problems.append(
            f"link property {link.name!r} is not unique (hasUniqueValue): counterpart creation "
            "would not be idempotent"
        )
    for name in sorted(_written_properties(mapping, side)):
        definition = definitions.get(name)
        if definition is not None and definition.read_only:
            problems.append(f"property {name!r} is read-only but the mapping writes it")
    for spec in mapping.fields:
        display = definitions.get(spec.team.display(side)) if spec.team is not None else None
        if display is not None and display.type != "string":
            problems.append(
                f"team display {display.name!r} is of type {display.type!r}; it must be a text "
                "property (type string) to hold the team's names and emails"
            )
    return (
        problems + _option_problems(mapping, side, definitions) + _creation_problems(mapping, side)
    )


def _creation_problems(mapping: SyncMapping, side: Side) -> list[str]:
    """HubSpot creates a deal only with a name and a stage (its object guide): a counterpart
    created on ``side`` without them would be refused, every time."""
    if not mapping.may_originate(side.other):
        return []
    written = set(created_values(mapping, side))
    written |= {f.property_on(side) for f in mapping.fields if f.allows(side.other)}
    return [
        f"deals the worker creates here would have no {name!r}, which HubSpot requires to "
        f"create a deal: give its field a default.{side}, or set it in [create.{side}]"
        for name in ("dealname", "dealstage")
        if name not in written
    ]


def _option_problems(
    mapping: SyncMapping, side: Side, definitions: Mapping[str, PropertyDef]
) -> list[str]:
    """Values written on every creation (defaults, constants) that are not among their
    enumeration's options (pipelines and stages have none listed: their ids are checked
    against the pipelines by ``check``)."""
    problems = []
    for name, value in sorted(created_values(mapping, side).items()):
        definition = definitions.get(name)
        if definition is None or not definition.options:
            continue
        chosen = value.split(";") if definition.field_type == "checkbox" else [value]
        unknown = [v for v in chosen if v and v not in definition.options]
        if unknown:
            problems.append(
                f"property {name!r} has no option {', '.join(map(repr, unknown))} "
                f"(the mapping writes it on creation); options: {', '.join(definition.options)}"
            )
    return problems


def _default_problems(
    mapping: SyncMapping, side: Side, pipelines: Mapping[str, set[str]]
) -> list[str]:
    problems = []
    for spec in mapping.fields:
        default = spec.default(side)
        prop = spec.property_on(side)
        if default is None:
            continue
        if prop == "pipeline" and default not in pipelines:
            problems.append(
                f"default pipeline {default!r} does not exist; have {sorted(pipelines)}"
            )
        stages = set().union(*pipelines.values()) if pipelines else set()
        if prop == "dealstage" and default not in stages:
            problems.append(f"default stage {default!r} is in no pipeline")
    return problems
