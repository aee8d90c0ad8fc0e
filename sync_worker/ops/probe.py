"""``check`` online: do the credentials work, and does each CRM hold what the mapping names?

For each pair and side: the token is accepted (property definitions, pipelines and owners can
be read, deactivated owners too when the mapping has a deal team); every mapped property exists;
the link property exists and is unique (upserts depend on it); nothing the worker writes is
read-only (a deal team's display included, which must be a text property); pipeline and stage
defaults exist.
"""

from __future__ import annotations

from collections.abc import Mapping

from sync_worker.connectors.base import Connector, PropertyDef
from sync_worker.kernel.errors import ConnectorError
from sync_worker.kernel.model import Side
from sync_worker.rules.mapping import SyncMapping
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
