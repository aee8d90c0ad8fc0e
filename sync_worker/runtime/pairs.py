"""Load each configured pair's mapping and check it against its endpoints, before any call."""

from __future__ import annotations

from collections.abc import Mapping

from sync_worker.connectors.hubspot.paginator import query_problems
from sync_worker.kernel.errors import ConfigError
from sync_worker.kernel.model import Side
from sync_worker.rules.mapping import SyncMapping, load_mapping
from sync_worker.rules.scope import discovery_scope
from sync_worker.runtime.config import LoadedConfig, PairSettings


def mapping_context(pair: PairSettings) -> dict[str, str]:
    """Values for ``{placeholders}`` in the pair's mapping file."""
    return {"partner_account": pair.partner_account}


def load_pair_mappings(loaded: LoadedConfig) -> dict[str, SyncMapping]:
    """Load every pair's mapping; raise one ConfigError listing every broken file."""
    mappings: dict[str, SyncMapping] = {}
    problems: list[str] = []
    for name, pair in loaded.settings.pairs.items():
        path = loaded.mapping_paths[name]
        try:
            mappings[name] = load_mapping(path, context=mapping_context(pair))
        except ConfigError as error:
            problems += [f"pairs.{name}.mapping: {path}: {p}" for p in error.problems]
            continue
        for side, endpoint in ((Side.PARTNER, pair.partner), (Side.REP, pair.rep)):
            problems += [
                f"pairs.{name}.mapping: {path}: {side} ({endpoint}): {p}"
                for p in _query_problems(loaded, endpoint, mappings[name], side)
            ]
    if problems:
        raise ConfigError(problems)
    return mappings


def _query_problems(
    loaded: LoadedConfig, endpoint: str, mapping: SyncMapping, side: Side
) -> list[str]:
    """What the endpoint's CRM would refuse in this side's pull (checked before any call)."""
    if loaded.settings.endpoints[endpoint].kind != "hubspot":  # pragma: no cover - only kind
        return []
    return query_problems(discovery_scope(mapping, side), mapping.properties(side))


def pair_names(selected: str | None, available: Mapping[str, object]) -> list[str]:
    """The pairs a command acts on: one named pair or all; an unknown name is a ConfigError."""
    if selected is None:
        return list(available)
    if selected not in available:
        known = ", ".join(sorted(available)) or "(none)"
        raise ConfigError(f"unknown pair {selected!r}; configured pairs: {known}")
    return [selected]
