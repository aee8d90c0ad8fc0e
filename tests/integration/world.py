"""A two-portal sandbox served over loopback HTTP, the real HubSpot connector and a real SQLite
state file: everything an integration test drives, plus helpers that act like people in the CRMs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from hubspot_sandbox import Portal, Sandbox, SandboxServer
from hubspot_sandbox.clock import Clock as SandboxClock
from sync_worker.connectors.hubspot.adapter import HubSpotConnector
from sync_worker.connectors.hubspot.factory import make_hubspot_connector
from sync_worker.connectors.hubspot.ratelimit import LimiterRegistry
from sync_worker.connectors.hubspot.retry import RetrySettings
from sync_worker.kernel.clock import Clock, FakeClock, SystemClock
from sync_worker.mappings import builtin_mapping_path
from sync_worker.rules.deal_team import shown_emails
from sync_worker.rules.mapping import SyncMapping, load_mapping
from sync_worker.state import SqlStateStore, StateStore, open_store
from sync_worker.sync.context import PairContext
from sync_worker.sync.engine import CycleOptions, CycleReport, run_cycle

PAIR = "agency-001"
# The connector's pacing tier: like the sandbox's portals, no limits unless a test sets them.
CLIENT_TIER = "unlimited"
WRITE_ENDPOINTS = ("batch_update", "batch_upsert", "batch_create", "update", "create")
TWO_WAY = ("amount", "closedate", "product_interest", "shared_deal_team")

ADA = "ada.lovelace@agency.example"
GRACE = "grace.hopper@agency.example"
ALAN = "alan.turing@agency.example"
RITA = "rita.rep@hubspot.example"
SAM = "sam.sales@hubspot.example"
PAULA = "paula.partnermgr@hubspot.example"


def load_default_mapping(
    partner_account: str = PAIR, name: str = "hubspot_shared_deals"
) -> SyncMapping:
    return load_mapping(builtin_mapping_path(name), context={"partner_account": partner_account})


def load_text_team_mapping(partner_account: str = PAIR) -> SyncMapping:
    """The built-in mapping that keeps the deal team as text (an owned set of emails)."""
    return load_default_mapping(partner_account, "hubspot_shared_deals_text_team")


def deal_props(**overrides: str) -> dict[str, str]:
    """A plausible shared deal; ``overrides`` replace or add properties."""
    return {
        "dealname": "Initech - CRM rollout",
        "amount": "48000",
        "closedate": "2027-02-28T00:00:00.000Z",
        "product_interest": "Sales Hub Enterprise",
        "shared_deal_team": ADA,
        **overrides,
    }


def tick() -> None:
    """Let the sandbox's millisecond clock move on, so two edits get distinct timestamps."""
    time.sleep(0.005)


@dataclass
class World:
    """One sandbox server, one state file and the connectors built on them."""

    sandbox: Sandbox
    server: SandboxServer
    store: SqlStateStore
    state_path: Path
    mapping: SyncMapping = field(default_factory=load_default_mapping)
    registry: LimiterRegistry = field(default_factory=LimiterRegistry)
    clock: Clock = field(default_factory=SystemClock)
    """The worker's clock: the sandbox's own, so a FakeClock drives both."""
    _closers: list[Callable[[], None]] = field(default_factory=list)
    _default: PairContext | None = None

    # -- portals -------------------------------------------------------------------------

    @property
    def partner(self) -> Portal:
        return self.sandbox.portal("partner")

    @property
    def rep(self) -> Portal:
        return self.sandbox.portal("rep")

    # -- the worker ----------------------------------------------------------------------

    def connector(
        self,
        portal: str,
        *,
        token: str | None = None,
        tier: str = CLIENT_TIER,
        page_size: int = 200,
        retry: RetrySettings | None = None,
        overlap_seconds: float = 5,
        timeout: float = 30.0,
        metadata_ttl_seconds: float = 300.0,
        account_timezone: str = "UTC",
    ) -> HubSpotConnector:
        """A connector for ``portal``, paced on the portal's own clock."""
        connector = make_hubspot_connector(
            name=portal,
            base_url=self.server.base_url(portal),
            token=SecretStr(token or self.sandbox.portal(portal).spec.token),
            tier=tier,
            clock=worker_clock(self.sandbox.portal(portal).clock),
            overlap_seconds=overlap_seconds,
            limiter_registry=self.registry,
            retry=retry,
            page_size=page_size,
            timeout=timeout,
            metadata_ttl_seconds=metadata_ttl_seconds,
            account_timezone=account_timezone,
        )
        self._closers.append(connector.close)
        return connector

    def context(
        self,
        name: str = PAIR,
        *,
        partner: Any = None,
        rep: Any = None,
        store: StateStore | None = None,
        mapping: SyncMapping | None = None,
    ) -> PairContext:
        """A pair's context; connectors default to fresh ones with the portals' own tokens."""
        return PairContext(
            name,
            mapping or self.mapping,
            partner if partner is not None else self.connector("partner"),
            rep if rep is not None else self.connector("rep"),
            store if store is not None else self.store,
            self.clock,
            interval_seconds=60,
        )

    def ctx_override(self, **connector_settings: Any) -> PairContext:
        """Make the default pair use connectors built with ``connector_settings``."""
        self._default = self.context(
            partner=self.connector("partner", **connector_settings),
            rep=self.connector("rep", **connector_settings),
        )
        return self._default

    @property
    def ctx(self) -> PairContext:
        """The test's default pair (built once, so its connectors share their caches)."""
        if self._default is None:
            self._default = self.context()
        return self._default

    def cycle(
        self, ctx: PairContext | None = None, options: CycleOptions | None = None
    ) -> CycleReport:
        return run_cycle(ctx or self.ctx, options)

    def ok_cycle(self, ctx: PairContext | None = None) -> CycleReport:
        report = self.cycle(ctx)
        assert report.outcome == "ok", report
        return report

    def settle(self, cycles: int = 3) -> list[CycleReport]:
        """Run ``cycles`` successful cycles (echoes of the first one's writes come back)."""
        return [self.ok_cycle() for _ in range(cycles)]

    # -- people in the CRMs --------------------------------------------------------------

    def register(self, **props: str) -> str:
        """The partner creates and registers a shared deal; returns the partner deal id."""
        deal_id = self.partner.create_deal(deal_props(**props))
        self.partner.register_deal(deal_id)
        return deal_id

    def refer(self, account: str = PAIR, **props: str) -> str:
        """The rep refers a deal to partner ``account``; returns the rep deal id."""
        values = deal_props(**props)
        values["shared_deal_team"] = props.get("shared_deal_team", RITA)
        return self.rep.create_deal({**values, "shared_partner_account": account})

    def linked(self, **props: str) -> tuple[str, str]:
        """A registered deal synced once: ``(partner_id, rep_id)`` with an active link."""
        partner_id = self.register(**props)
        self.ok_cycle()
        link = self.store.find_link(PAIR, partner_id)
        assert link is not None
        assert link.status == "active"
        return partner_id, link.rep_id

    # -- reading the outcome -------------------------------------------------------------

    def partner_deal(self, deal_id: str) -> dict[str, str | None]:
        deal = self.partner.get_deal(deal_id)
        assert deal is not None, f"partner deal {deal_id} is gone"
        return deal

    def rep_deal(self, deal_id: str) -> dict[str, str | None]:
        deal = self.rep.get_deal(deal_id)
        assert deal is not None, f"rep deal {deal_id} is gone"
        return deal

    def rep_deals_for(self, partner_id: str) -> list[dict[str, str | None]]:
        """Every rep deal that names ``partner_id`` as its partner counterpart."""
        return [
            d
            for d in self.rep.deals()
            if named_partner_deal(d.get("partner_deal_id")) == partner_id
        ]

    def close(self) -> None:
        for close in reversed(self._closers):
            close()
        self.store.close()


def writes(portal: Portal) -> int:
    """How many write requests ``portal`` has answered (any status)."""
    counters = portal.counters
    return sum(sum(counters.get(name, {}).values()) for name in WRITE_ENDPOINTS)


def status_count(portal: Portal, status: int) -> int:
    """How many responses with HTTP ``status`` the portal has sent, over every endpoint."""
    return sum(counts.get(status, 0) for counts in portal.counters.values())


def api_history(portal: Portal, deal_id: str, names: Sequence[str] = TWO_WAY) -> int:
    """How many history entries written through the API (the worker) ``deal_id`` has."""
    return sum(
        1
        for name in names
        for entry in portal.history(deal_id, name)
        if entry["sourceType"] == "API"
    )


def named_partner_deal(stored: str | None) -> str | None:
    """The partner deal id a rep deal's ``partner_deal_id`` names: a bare id, or one qualified
    by the partner account (``agency-001:123``)."""
    return stored.rpartition(":")[2] if stored else None


def members(raw: str | None) -> set[str]:
    """The emails a team lists: a text team of emails, or a display of ``Name <email>``."""
    return set(shown_emails(raw))


def products(raw: str | None) -> set[str]:
    """A multi-select's options (order never matters; case does)."""
    return {m.strip() for m in (raw or "").split(";") if m.strip()}


def team(*emails: str) -> str:
    return ";".join(sorted(emails))


def snapshot(portal: Portal) -> list[Mapping[str, str | None]]:
    return list(portal.deals())


def worker_clock(clock: SandboxClock) -> Clock:
    """The worker's clock for a sandbox clock: the same FakeClock when a test drives time (so
    one clock moves both), else the real clock (the sandbox's reads real time too)."""
    return clock if isinstance(clock, FakeClock) else SystemClock()


@contextmanager
def running_world(
    server: SandboxServer,
    sandbox: Sandbox,
    state_path: Path,
    registry: LimiterRegistry | None = None,
) -> Iterator[World]:
    """``server`` serving ``sandbox``, with a state file at ``state_path``; closed after."""
    server.use(sandbox)
    store = open_store(f"sqlite:///{state_path}")
    world = World(
        sandbox,
        server,
        store,
        state_path,
        registry=registry or LimiterRegistry(),
        clock=worker_clock(sandbox.clock),
    )
    try:
        yield world
    finally:
        world.close()
