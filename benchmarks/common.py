"""Shared by the backfill and memory benchmarks: a seeded sandbox in its own process, and the
real worker (engine, HubSpot connectors, SQLite state) pointed at it.

The sandbox runs as a subprocess (``python -m benchmarks.common --deals N --tier T``) so the
worker's measurements (RSS above all, but also CPU on a 2-core machine) never include the
sandbox's data or its request handling. The child seeds itself in-process, which is far faster
than 4 N admin calls over HTTP, and then serves the two demo portals ("partner", "rep").

The seed: N pairs already linked through their link properties (partner ``rep_deal_id`` / rep
``partner_deal_id``), rep deals in the pair's account (``shared_partner_account``), partner deals
registered (``hs_num_associated_active_deal_registrations`` = 1). Pair i is the i-th deal on
both sides in ``hs_lastmodifieddate`` order, so both pulls meet each pair at about the same time.
A fraction of the pairs differs on ``amount`` (a two-way, newest-wins field), edited later on
one side (alternately partner and rep), so the backfill has writes to make.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import httpx
from pydantic import SecretStr

from benchmarks.children import end_child
from sync_worker.connectors.budget import BudgetStore
from sync_worker.connectors.hubspot.adapter import HubSpotConnector
from sync_worker.connectors.hubspot.factory import make_hubspot_connector
from sync_worker.connectors.hubspot.ratelimit import (
    SEARCH_PER_SECOND,
    TIER_LIMITS,
    CredentialLimiter,
    LimiterRegistry,
    RequestKind,
    Ticket,
    token_fingerprint,
)
from sync_worker.kernel.clock import Clock, SystemClock
from sync_worker.mappings import builtin_mapping_path
from sync_worker.rules.mapping import load_mapping
from sync_worker.runtime.logging import configure_logging
from sync_worker.state import open_store
from sync_worker.state.budget import SqlBudgets
from sync_worker.sync.context import PairContext
from sync_worker.sync.engine import CycleOptions, CycleReport, run_cycle

if TYPE_CHECKING:  # the worker process never imports the sandbox: its RSS stays the worker's own
    from hubspot_sandbox import Portal, Sandbox

PORTALS = ("partner", "rep")
TOKENS = {"partner": "demo-partner-token", "rep": "demo-rep-token"}
PARTNER_ACCOUNT = "agency-001"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
UNLIMITED = "unlimited"
UNPACED = 1_000_000
MAPPING_PATH = builtin_mapping_path("hubspot_shared_deals")
CLIENT_MARGIN = 5  # the product's LimiterRegistry default: requests kept free per 10 s
COLLABORATORS = "hs_all_collaborator_owner_ids"
PARTNER_MEMBER, REP_MEMBER = "71000001", "92000001"  # demo owners: Ada (partner), Rita (rep)
ADA = "Ada Lovelace <ada.lovelace@agency.example>"
TEAM_SHOWN = f"{ADA};Rita Rep <rita.rep@hubspot.example>"

# --- the child: seed and serve ------------------------------------------------------------------


def seed_linked_pairs(sandbox: Sandbox, deals: int, *, differ: float, seed: int = 0) -> int:
    """Fill the demo portals with ``deals`` linked pairs; return how many differ on amount."""
    partner, rep = sandbox.portal("partner"), sandbox.portal("rep")
    now = sandbox.clock.now()
    loaded_at, base = now - timedelta(days=2), now - timedelta(days=1)
    rng = random.Random(seed)
    values = [_deal_values(rng, now, i) for i in range(deals)]
    partner_rows = [{**v, COLLABORATORS: PARTNER_MEMBER} for v in values]
    partner_ids = partner.bulk_load(partner_rows, modified_at=loaded_at)
    rep_rows = [
        {**v, "shared_partner_account": PARTNER_ACCOUNT, COLLABORATORS: REP_MEMBER} for v in values
    ]
    rep_ids = rep.bulk_load(rep_rows, modified_at=loaded_at)
    del values, partner_rows, rep_rows
    differing = set(rng.sample(range(deals), round(deals * differ)))
    on_partner, on_rep = link_formats()
    for i, (pid, rid) in enumerate(zip(partner_ids, rep_ids, strict=True)):
        # 10 ms apart, so the i-th pair is the i-th deal of both sides' pulls.
        at = base + timedelta(milliseconds=10 * i)
        partner.edit_deal(pid, {"rep_deal_id": on_partner(rid)}, source="INTEGRATION", at=at)
        rep.edit_deal(rid, {"partner_deal_id": on_rep(pid)}, source="INTEGRATION", at=at)
        partner.register_deal(pid, at=at + timedelta(milliseconds=1))
        if i in differing:
            side, deal_id = (partner, pid) if i % 2 == 0 else (rep, rid)
            _edit_amount(side, deal_id, rng, at + timedelta(milliseconds=5))
    return len(differing)


def seed_registered(sandbox: Sandbox, deals: int, *, seed: int = 0) -> int:
    """Fill the partner portal with ``deals`` registered deals that have no counterpart yet
    (a partner's first sync); the rep portal stays empty. Returns 0 (nothing differs)."""
    partner = sandbox.portal("partner")
    now = sandbox.clock.now()
    rng = random.Random(seed)
    loaded_at = now - timedelta(days=1)
    ids = partner.bulk_load(
        [_deal_values(rng, now, i) for i in range(deals)], modified_at=loaded_at
    )
    for i, deal_id in enumerate(ids):  # registered as a partner does it, 10 ms apart
        partner.register_deal(deal_id, at=loaded_at + timedelta(milliseconds=10 * (i + 1)))
    return 0


def link_formats() -> tuple[Callable[[str], str], Callable[[str], str]]:
    """How the default mapping writes a counterpart id into each side's link property
    (``[links] partner_value`` / ``rep_value``, e.g. ``"{partner_account}:{id}"``), so the
    seeded pairs are linked exactly as the worker would have linked them."""
    links = tomllib.loads(MAPPING_PATH.read_text(encoding="utf-8"))["links"]

    def formatter(template: str) -> Callable[[str], str]:
        return lambda deal_id: template.format(partner_account=PARTNER_ACCOUNT, id=deal_id)

    return formatter(links.get("partner_value", "{id}")), formatter(links.get("rep_value", "{id}"))


def _deal_values(rng: random.Random, now: datetime, i: int) -> dict[str, str]:
    close = (now + timedelta(days=rng.randint(5, 150))).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return {
        "dealname": f"Benchmark deal {i}",
        "amount": str(rng.randrange(1_000, 200_000, 500)),
        "closedate": close.isoformat(),
        "product_interest": "Sales Hub Professional",
        # The default mapping's deal team: each side's own collaborators (a demo owner id on
        # each portal), and the display the worker derives from them on both.
        "shared_deal_team": TEAM_SHOWN,
    }


def _edit_amount(portal: Portal, deal_id: str, rng: random.Random, at: datetime) -> None:
    portal.edit_deal(deal_id, {"amount": str(rng.randrange(200_500, 400_000, 500))}, at=at)


def serve_seeded(
    deals: int, tier: str, differ: float, out: IO[str], *, scenario: str = "linked"
) -> None:
    """Seed, serve on a free port, print one JSON line (url, counts), serve until stdin closes.
    ``scenario``: ``linked`` pairs (:func:`seed_linked_pairs`) or ``registered`` partner deals
    with no counterpart (:func:`seed_registered`)."""
    from hubspot_sandbox import Sandbox, SandboxServer, demo_portals

    started = time.monotonic()
    sandbox = Sandbox(demo_portals(tier=tier))
    if scenario == "registered":
        differing = seed_registered(sandbox, deals)
    else:
        differing = seed_linked_pairs(sandbox, deals, differ=differ)
    seeded_s = time.monotonic() - started
    with SandboxServer(sandbox) as server:
        ready = {"url": server.url, "differing": differing, "seed_seconds": round(seeded_s, 1)}
        print(json.dumps(ready), file=out, flush=True)
        sys.stdin.read()  # the parent closes our stdin (or dies) when it is done


# --- the parent: start the child, talk to it --------------------------------------------------


@dataclass(frozen=True, slots=True)
class SandboxInfo:
    """A running seeded sandbox process."""

    url: str
    differing: int
    seed_seconds: float
    pid: int

    def base_url(self, portal: str) -> str:
        return f"{self.url}/{portal}"

    def cpu_seconds(self) -> float | None:
        """CPU time the sandbox process used so far (Linux ``/proc``; None elsewhere)."""
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text(encoding="ascii")
        except OSError:
            return None
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def counters(self, portal: str) -> dict[str, dict[int, int]]:
        """Requests the portal served, by endpoint and HTTP status (admin calls not counted)."""
        response = httpx.get(f"{self.base_url(portal)}/__sandbox/counters", timeout=30)
        response.raise_for_status()
        raw: dict[str, dict[str, int]] = response.json()["counters"]
        return {name: {int(k): v for k, v in by.items()} for name, by in raw.items()}


@contextmanager
def seeded_sandbox(
    deals: int, *, tier: str, differ: float = 0.1, scenario: str = "linked"
) -> Iterator[SandboxInfo]:
    """A sandbox subprocess holding ``deals`` linked pairs (or, with ``scenario="registered"``,
    registered partner deals without counterparts); stopped (by its pid) on exit."""
    command = [sys.executable, "-m", "benchmarks.common", "--deals", str(deals), "--tier", tier]
    command += ["--differ", str(differ), "--scenario", scenario]
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        if not line:
            raise RuntimeError(f"the sandbox process exited ({child.wait()}) before serving")
        ready = json.loads(line)
        yield SandboxInfo(ready["url"], ready["differing"], ready["seed_seconds"], child.pid)
    finally:
        end_child(child)


# --- the worker ---------------------------------------------------------------------------------


class MeteredLimiter(CredentialLimiter):
    """The product's limiter, also adding up how long callers waited for it, by request kind."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.waited: defaultdict[str, float] = defaultdict(float)

    def acquire(self, kind: RequestKind = "general") -> Ticket:
        started = time.monotonic()
        ticket = super().acquire(kind)
        self.waited[kind] += time.monotonic() - started
        return ticket


class MeteredRegistry(LimiterRegistry):
    """One :class:`MeteredLimiter` per base URL, paced like the product's registry at ``tier``.

    The sandbox's "unlimited" tier has no HubSpot equivalent and every product tier paces
    search at 5/s, so for it the limiters pace nothing: the run then measures the worker's own
    CPU and memory rather than HubSpot's limits. Paced tiers keep their budgets in ``budgets``
    (the state store's, as the product wires them); unpaced ones in the process, as the product
    sends no request of the unlimited tier through a budget at all.
    """

    def __init__(self, budgets: BudgetStore | None = None) -> None:
        super().__init__(margin=CLIENT_MARGIN)
        self.by_url: dict[str, MeteredLimiter] = {}
        self._shared = budgets

    def get(self, *, base_url: str, token: SecretStr, tier: str, clock: Clock) -> CredentialLimiter:
        unpaced = tier == UNLIMITED
        limiter = MeteredLimiter(
            per_10s=UNPACED if unpaced else TIER_LIMITS[tier],
            clock=clock,
            label=f"{base_url}#{token_fingerprint(token)}",
            margin=0 if unpaced else CLIENT_MARGIN,
            search_per_s=UNPACED if unpaced else SEARCH_PER_SECOND,
            budgets=None if unpaced else self._shared,
        )
        self.by_url[base_url] = limiter
        return limiter


@dataclass(frozen=True, slots=True)
class Worker:
    """The pair the benchmarks run, and its limiters (for the time spent waiting on them)."""

    ctx: PairContext
    limiters: MeteredRegistry

    def waited(self, portal: str) -> dict[str, float]:
        """Seconds this portal's callers waited for the client's pacing, by request kind."""
        for url, limiter in self.limiters.by_url.items():
            if url.endswith(f"/{portal}"):
                return dict(limiter.waited)
        return {}


@contextmanager
def worker_pair(
    sandbox: SandboxInfo, *, tier: str, overlap_seconds: float = 120.0
) -> Iterator[Worker]:
    """The real pair: default mapping, two HubSpot connectors at ``tier``, fresh SQLite state;
    ``overlap_seconds`` is the connectors' index-lag allowance."""
    configure_logging(fmt="json", level="warning")
    clock = SystemClock()
    mapping = load_mapping(MAPPING_PATH, context={"partner_account": PARTNER_ACCOUNT})
    with tempfile.TemporaryDirectory(prefix="bench-state-") as directory:
        store = open_store(f"sqlite:///{Path(directory) / 'state.db'}", clock=clock)
        limiters = MeteredRegistry(SqlBudgets(store.engine))  # budgets in the store, as wired
        connectors: dict[str, HubSpotConnector] = {}
        try:
            for portal in PORTALS:
                connectors[portal] = make_hubspot_connector(
                    name=portal,
                    base_url=sandbox.base_url(portal),
                    token=SecretStr(TOKENS[portal]),
                    tier=tier,
                    clock=clock,
                    limiter_registry=limiters,
                    overlap_seconds=overlap_seconds,
                )
            ctx = PairContext(
                name="bench",
                mapping=mapping,
                partner=connectors["partner"],
                rep=connectors["rep"],
                store=store,
                clock=clock,
            )
            yield Worker(ctx, limiters)
        finally:
            for connector in connectors.values():
                connector.close()
            store.close()


def backfill(ctx: PairContext) -> CycleReport:
    """One backfill cycle since the epoch (every deal in scope, on both sides)."""
    return run_cycle(ctx, CycleOptions(mode="backfill", since=EPOCH))


# --- figures ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Timing:
    """Wall and CPU time of a block, and the machine's load when it started (the figures are
    only comparable between runs on an otherwise idle machine)."""

    wall: float = 0.0
    cpu: float = 0.0
    engine_cpu: float = 0.0
    sandbox_cpu: float | None = None
    load: float = 0.0

    @classmethod
    @contextmanager
    def measure(cls, sandbox: SandboxInfo) -> Iterator[Timing]:
        timing = cls(load=os.getloadavg()[0])
        sandbox_before = sandbox.cpu_seconds()
        wall, cpu, engine = time.monotonic(), time.process_time(), time.thread_time()
        try:
            yield timing
        finally:
            timing.wall = time.monotonic() - wall
            timing.cpu = time.process_time() - cpu
            timing.engine_cpu = time.thread_time() - engine
            sandbox_after = sandbox.cpu_seconds()
            if sandbox_before is not None and sandbox_after is not None:
                timing.sandbox_cpu = sandbox_after - sandbox_before

    def rows(self) -> list[tuple[str, str]]:
        cores = os.cpu_count() or 1
        return [
            ("wall time", f"{self.wall:.1f} s"),
            ("worker CPU time", f"{self.cpu:.1f} s, all threads ({self.cpu / self.wall:.0%})"),
            ("  on the engine thread", f"{self.engine_cpu:.1f} s (it processes every page)"),
            (
                "sandbox CPU time",
                "n/a" if self.sandbox_cpu is None else f"{self.sandbox_cpu:.1f} s",
            ),
            ("machine load at start", f"{self.load:.1f} on {cores} cores (1-min load average)"),
        ]


def peak_rss_mb() -> float:
    """This process's peak resident set so far (Linux reports ``ru_maxrss`` in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def print_table(title: str, rows: Sequence[tuple[str, str]]) -> None:
    width = max(len(name) for name, _ in rows)
    print(f"\n{title}")
    print("-" * len(title))
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")


def counts_line(counts: Mapping[str, int], keys: Sequence[str]) -> str:
    return ", ".join(f"{k}={counts.get(k, 0)}" for k in keys)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.common",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--deals", type=int, required=True)
    parser.add_argument("--tier", default="free")
    parser.add_argument("--differ", type=float, default=0.1)
    parser.add_argument("--scenario", choices=("linked", "registered"), default="linked")
    args = parser.parse_args(argv)
    serve_seeded(args.deals, args.tier, args.differ, sys.stdout, scenario=args.scenario)


if __name__ == "__main__":
    main()
