"""Build the running objects from a validated config: the store, connectors, pair contexts.

Each pair gets its own connector per side (so per-cycle API-call counts are its own), while
every connector using the same credential shares one rate limiter (:class:`LimiterRegistry`:
the rep CRM's budget is shared by all the pairs that use it) and one metadata cache
(:class:`MetadataRegistry`: the rep CRM's owners are loaded once for every pair).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta

import structlog

from sync_worker.connectors.base import Connector
from sync_worker.connectors.hubspot.factory import make_hubspot_connector
from sync_worker.connectors.hubspot.metadata import MetadataRegistry
from sync_worker.connectors.hubspot.ratelimit import UNLIMITED, LimiterRegistry, credential_label
from sync_worker.connectors.hubspot.retry import RetrySettings
from sync_worker.kernel.clock import Clock, SystemClock
from sync_worker.kernel.errors import ConfigError
from sync_worker.kernel.model import BySide, Side
from sync_worker.rules.mapping import SyncMapping
from sync_worker.runtime.config import EndpointSettings, LoadedConfig
from sync_worker.runtime.pairs import load_pair_mappings
from sync_worker.state import SqlStateStore, open_store
from sync_worker.state.base import PruneCounts, StateStore
from sync_worker.state.progress import PairProgress
from sync_worker.state.webhook_ledger import SqlWebhookLedger
from sync_worker.sync.context import PairContext
from sync_worker.sync.discoverer import Discovery
from sync_worker.sync.discovery import Group, lease_name, plan_groups

log = structlog.stdlib.get_logger("sync_worker.runtime.wiring")


@dataclass(frozen=True, slots=True)
class CredentialRef:
    """The credential one side of a pair uses: its endpoint and the label its limiter and
    metrics carry (``base_url#token-fingerprint``); ``label`` is None when nothing paces it
    (the sandbox's ``unlimited`` tier)."""

    endpoint: str
    label: str | None


@dataclass(slots=True)
class Runtime:
    """The process's store and pair contexts; close it to release connections and leases."""

    config: LoadedConfig
    store: StateStore
    pairs: dict[str, PairContext]
    clock: Clock
    limiters: LimiterRegistry = field(default_factory=LimiterRegistry)
    metadata: MetadataRegistry = field(default_factory=MetadataRegistry)
    discoveries: dict[str, Discovery] = field(default_factory=dict)
    """Rep discovery per rep endpoint: one pull for every pair on it."""

    @property
    def webhook_ledger(self) -> SqlWebhookLedger | None:
        """The webhook route's memory of recent signatures and event ids, in the state
        database (None for a store that is not the SQL one)."""
        store = self.store
        return SqlWebhookLedger(store.engine) if isinstance(store, SqlStateStore) else None

    def discoveries_for(self, names: Iterable[str]) -> list[Discovery]:
        """The discoveries that serve any of the pairs ``names``."""
        wanted = set(names)
        return [d for d in self.discoveries.values() if wanted & set(d.pairs)]

    def progress(self, names: Sequence[str]) -> list[PairProgress]:
        """Each pair's progress, its rep side bounded by its endpoint's rep discovery: a pair is
        synced only up to the start of the last discovery that completed (a discovery failing
        for hours shows as hours of lag on every pair it serves)."""
        leases = {p: lease_name(d.endpoint) for d in self.discoveries.values() for p in d.pairs}
        found = self.store.progress([*names, *sorted(set(leases.values()))])
        by_key = {p.pair: p for p in found}
        result = []
        for name in names:
            mine = by_key[name]
            if name in leases and self.pairs[name].discovered:
                found_up_to = by_key[leases[name]].synced_up_to
                # Before its first discovery the pair's own first sync pulled its rep side.
                if found_up_to is not None and mine.synced_up_to is not None:
                    mine = replace(mine, synced_up_to=min(found_up_to, mine.synced_up_to))
            result.append(mine)
        return result

    def discovery_failures(self) -> list[str]:
        """One line per rep discovery whose newest run failed, with the reason."""
        leases = {lease_name(e): e for e in self.discoveries}
        lines = []
        for found in self.store.progress(sorted(leases)):
            failed_at, done = found.last_failure_at, found.synced_up_to
            if failed_at is not None and (done is None or failed_at > done):
                endpoint = leases[found.pair]
                lines.append(f"rep discovery of {endpoint}: last run failed: {found.last_failure}")
        return lines

    def prune_history(self, days: int | None = None) -> PruneCounts | None:
        """Delete history older than ``days`` (default ``worker.history_days``); None when
        retention is off (0 days). Logs ``history_pruned``."""
        keep = self.config.settings.worker.history_days if days is None else days
        if keep <= 0:
            return None
        before = self.clock.now() - timedelta(days=keep)
        counts = self.store.prune_history(before)
        log.info(
            "history_pruned",
            before=before.isoformat(),
            changes=counts.changes,
            runs=counts.runs,
            conflicts=counts.conflicts,
            dead_letters=counts.dead_letters,
        )
        return counts

    def credentials(self, pair: str) -> BySide[CredentialRef]:
        """Which credential each side of ``pair`` spends (for the console's budget column)."""
        settings = self.config.settings
        names = settings.pairs[pair]

        def ref(side: Side) -> CredentialRef:
            name = names.partner if side is Side.PARTNER else names.rep
            endpoint = settings.endpoints[name]
            if endpoint.rate_limit_tier == UNLIMITED or endpoint.token is None:
                return CredentialRef(name, None)
            return CredentialRef(name, credential_label(endpoint.base_url, endpoint.token))

        return BySide.build(ref)

    def close(self) -> None:
        connectors = [d.connector for d in self.discoveries.values()]
        for ctx in self.pairs.values():
            connectors += [ctx.partner, ctx.rep]
        for connector in connectors:
            close = getattr(connector, "close", None)
            if callable(close):
                close()
        self.store.close()


def make_connector(
    name: str,
    endpoint: EndpointSettings,
    clock: Clock,
    limiters: LimiterRegistry,
    metadata: MetadataRegistry | None = None,
) -> Connector:
    """A connector for ``endpoint`` (only HubSpot so far)."""
    if endpoint.kind != "hubspot":  # pragma: no cover - the config model admits only hubspot
        raise ConfigError(f"endpoints.{name}.kind: unsupported CRM kind {endpoint.kind!r}")
    if endpoint.token is None:  # load_config guarantees a token; keep mypy and readers honest
        raise ConfigError(f"endpoints.{name}: no token")
    return make_hubspot_connector(
        name=name,
        base_url=endpoint.base_url,
        token=endpoint.token,
        tier=endpoint.rate_limit_tier,
        clock=clock,
        timeout=endpoint.timeout_seconds,
        overlap_seconds=endpoint.search_overlap_seconds,
        limiter_registry=limiters,
        metadata_registry=metadata,
        retry=RetrySettings(attempts=endpoint.max_attempts),
        account_timezone=endpoint.account_timezone,
    )


def build_runtime(
    loaded: LoadedConfig,
    *,
    clock: Clock | None = None,
    store: StateStore | None = None,
    only_enabled: bool = True,
) -> Runtime:
    """Open the store and build a :class:`PairContext` per (enabled) pair."""
    mappings = load_pair_mappings(loaded)
    the_clock = clock or SystemClock()
    the_store = store or open_store(loaded.settings.worker.state_url)
    runtime = Runtime(loaded, the_store, {}, the_clock)
    try:
        runtime.pairs = _contexts(loaded, mappings, runtime, only_enabled=only_enabled)
        runtime.discoveries = _discoveries(loaded, runtime)
    except BaseException:
        the_store.close()
        raise
    return runtime


def _contexts(
    loaded: LoadedConfig,
    mappings: Mapping[str, SyncMapping],
    runtime: Runtime,
    *,
    only_enabled: bool,
) -> dict[str, PairContext]:
    settings = loaded.settings
    pairs = settings.enabled_pairs() if only_enabled else settings.pairs
    contexts = {}
    for name, pair in pairs.items():
        connectors = {
            role: make_connector(
                endpoint,
                settings.endpoints[endpoint],
                runtime.clock,
                runtime.limiters,
                runtime.metadata,
            )
            for role, endpoint in (("partner", pair.partner), ("rep", pair.rep))
        }
        contexts[name] = PairContext(
            name=name,
            mapping=mappings[name],
            partner=connectors["partner"],
            rep=connectors["rep"],
            store=runtime.store,
            clock=runtime.clock,
            interval_seconds=pair.interval_seconds or settings.worker.interval_seconds,
            dead_letter_max_attempts=settings.worker.dead_letter_max_attempts,
            lease_ttl_seconds=settings.worker.lease_ttl_seconds,
            discovered=True,
        )
    return contexts


def _discoveries(loaded: LoadedConfig, runtime: Runtime) -> dict[str, Discovery]:
    """One discovery per rep endpoint, with a connector of its own (its calls are not any
    pair's) sharing the credential's rate limiter."""
    endpoints = loaded.settings.endpoints
    found: dict[str, list[Group]] = {}
    for group in plan_groups(runtime.pairs.values()):
        found.setdefault(group.endpoint, []).append(group)
    return {
        endpoint: Discovery(
            endpoint,
            make_connector(
                endpoint, endpoints[endpoint], runtime.clock, runtime.limiters, runtime.metadata
            ),
            tuple(groups),
        )
        for endpoint, groups in found.items()
    }


@contextmanager
def runtime_for(
    loaded: LoadedConfig,
    *,
    clock: Clock | None = None,
    store: StateStore | None = None,
    only_enabled: bool = True,
) -> Iterator[Runtime]:
    """``build_runtime`` as a context manager that always closes."""
    runtime = build_runtime(loaded, clock=clock, store=store, only_enabled=only_enabled)
    try:
        yield runtime
    finally:
        runtime.close()
