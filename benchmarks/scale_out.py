"""The replica case of ``benchmarks.many_pairs``: P pairs with changes on a PostgreSQL state
store, synced by ``sync-worker run`` with 1 replica, then with 2 replicas sharing the store.

What bounds the figure is chosen, and printed: every portal answers in ``LATENCY`` (real
HubSpot's 100-300 ms), so one replica is bound by its threads waiting on HubSpot, which is what
another replica relieves; the rep portal runs at ``REP_TIER`` (the highest budget: 250 calls
per 10 s, 5 searches per s) so that the rep budget, shared by every replica, bounds the figure
only when a pair needs many rep calls; partner portals run at the free tier (each pair uses
only its own). The bounds printed: the rep budget (calls and searches per pair measured with one
replica) and the threads (runs in flight / mean run time).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.common import print_table
from benchmarks.fleet import REP, Expectation, Fleet, running_fleet
from benchmarks.worker_cli import (
    Run,
    Setting,
    counts_by_kind,
    daemons,
    event_times,
    overlapping,
    pg_schema,
    read_runs,
    run_once,
    tail,
    write_config,
)

REP_TIER, PARTNER_TIER = "api_limit_increase", "free"
REP_PER_10S, SEARCH_PER_S = 250, 5
LATENCY = (0.1, 0.3)
THREADS = 4
INTERVAL_SECONDS = 10
RATIO_TARGET = 1.8


@dataclass(frozen=True, slots=True)
class Round:
    """One round of the replica case: every pair had changes; N replicas synced them."""

    replicas: int
    pairs: int
    landed: int
    expected: int
    span: float
    startup: float
    spread: float
    """Seconds between the first and the last replica's ``daemon_started``."""
    counts: dict[str, dict[str, int]]
    runs: list[Run]
    overlaps: list[str]

    @property
    def throughput(self) -> float:
        return self.pairs / self.span if self.span > 0 else 0.0

    def rep(self, kind: str) -> int:
        return self.counts.get(REP, {}).get(kind, 0)

    @property
    def refused(self) -> int:
        return sum(by.get("429", 0) for by in self.counts.values())

    def mean_run_seconds(self) -> float:
        done = [(r.ended - r.started).total_seconds() for r in self.runs if r.ended]
        return sum(done) / len(done) if done else 0.0


def setup_links(fleet: Fleet, directory: Path, state_url: str) -> tuple[float, int]:
    """The worker's first sync of the seeded links (unlimited: set-up is not measured), and its
    echo cycle if it wrote anything; the first sync's wall time and how many writes it made."""
    setting = Setting(state_url, "unlimited", "unlimited")
    config = write_config(directory, fleet, setting, "setup")
    before = fleet.counters()
    done = run_once(config, directory / "first-sync.log")
    if done.returncode != 0:
        raise SystemExit(f"set-up first sync failed (exit {done.returncode}):\n{tail(done.log)}")
    writes = sum(by.get("write", 0) for by in counts_by_kind(before, fleet.counters()).values())
    time.sleep(setting.overlap_seconds + 0.5)  # the index-lag allowance passes
    if writes:
        echo = run_once(config, directory / "echo.log")
        if echo.returncode != 0:
            raise SystemExit(f"set-up echo failed (exit {echo.returncode}):\n{tail(echo.log)}")
        time.sleep(setting.overlap_seconds + 0.5)
    return done.wall, writes


@dataclass(frozen=True, slots=True)
class Rig:
    """What the rounds share: the fleet, the replicas' config and the state store."""

    fleet: Fleet
    config: Path
    directory: Path
    state_url: str


def run_round(rig: Rig, replicas: int, timeout: float) -> Round:
    """Change every pair on both sides, start ``replicas`` daemons, wait until every change has
    landed (or ``timeout``), stop them."""
    fleet = rig.fleet
    changes = [[i, side] for i in range(1, fleet.pairs + 1) for side in ("partner", "rep")]
    expect: list[Expectation] = fleet.ask("edit", changes=changes)["expect"]
    before = fleet.counters()
    launched = datetime.now(UTC)
    logs = [rig.directory / f"run-{replicas}-{n}.log" for n in range(replicas)]
    landed: dict[str, int] = {"landed": 0, "last_ms": 0}
    with daemons(rig.config, logs) as processes:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and landed["landed"] < len(expect):
            if any(p.poll() is not None for p in processes):
                raise SystemExit(f"a replica exited:\n{tail(logs[0])}")
            time.sleep(0.5)
            landed = fleet.ask("landed", expect=expect)
    counts = counts_by_kind(before, fleet.counters())
    started = [t for log in logs for t in event_times(log, "daemon_started")] or [launched]
    first = min(started)
    end = landed["last_ms"] / 1000 if landed["landed"] == len(expect) else time.time()
    runs = read_runs(rig.state_url, since=launched)
    return Round(
        replicas,
        fleet.pairs,
        landed["landed"],
        len(expect),
        span=end - first.timestamp(),
        startup=(first - launched).total_seconds(),
        spread=(max(started) - first).total_seconds(),
        counts=counts,
        runs=runs,
        overlaps=overlapping(runs, datetime.now(UTC)),
    )


def replicas_case(pairs: int, deals: int, pg_url: str, directory: Path, timeout: float) -> None:
    with pg_schema(pg_url) as state_url, running_fleet(pairs, deals) as fleet:
        setup = setup_links(fleet, directory, state_url)
        fleet.ask("tier", portals="rep", tier=REP_TIER)
        fleet.ask("tier", portals="partners", tier=PARTNER_TIER)
        fleet.ask("latency", portals="all", low=LATENCY[0], high=LATENCY[1])
        setting = Setting(
            state_url,
            REP_TIER,
            PARTNER_TIER,
            interval_seconds=INTERVAL_SECONDS,
            max_parallel_pairs=THREADS,
            log_level="info",
        )
        rig = Rig(fleet, write_config(directory, fleet, setting, "replicas"), directory, state_url)
        rounds = [run_round(rig, n, timeout) for n in (1, 2)]
    print_replicas(pairs, deals, setup, rounds)


def print_replicas(
    pairs: int, deals: int, setup: tuple[float, int], rounds: Sequence[Round]
) -> None:
    one, two = rounds
    rows = [
        (
            "portals",
            (
                f"rep at {REP_TIER} ({REP_PER_10S} per 10 s, {SEARCH_PER_S} searches/s: the "
                f"highest budget, shared by every replica); {pairs} partners at {PARTNER_TIER} "
                f"(each pair uses only its own); every call answered in {LATENCY[0]:.1f}-"
                f"{LATENCY[1]:.1f} s (real HubSpot's range), so a replica's threads wait on HubSpot"
            ),
        ),
        (
            "worker",
            (
                f"{THREADS} pairs in flight per replica, interval {INTERVAL_SECONDS} s; {deals} "
                f"deals per pair, linked by a first sync ({setup[0]:.0f} s, {setup[1]} writes)"
            ),
        ),
        *[(f"{r.replicas} replica(s)", _round_line(r)) for r in rounds],
    ]
    print_table(f"replicas: {pairs} pairs with changes on both sides, PostgreSQL state", rows)
    ratio = two.throughput / one.throughput if one.throughput else 0.0
    for line in _bounds(one):
        print(line)
    print(f"throughput ratio 2 vs 1 replica: {ratio:.2f}x; target >= {RATIO_TARGET}x (ideal 2.0x)")
    refused = sum(r.refused for r in rounds)
    print(f"429s in the replica rounds: {refused}; target 0")
    overlaps = sorted({p for r in rounds for p in r.overlaps})
    named = f" ({', '.join(overlaps[:5])})" if overlaps else ""
    print(f"pairs run by two processes at once (sw_runs): {len(overlaps)}{named}; target 0")
    landed = all(r.landed == r.expected for r in rounds)
    ok = landed and ratio >= RATIO_TARGET and refused == 0 and not overlaps
    late = "" if landed else " (not every change landed before the timeout)"
    print(f"replicas verdict: {'met' if ok else 'NOT met'}{late}")


def _round_line(r: Round) -> str:
    return (
        f"{r.throughput:5.2f} pairs/s ({r.pairs} pairs in {r.span:.1f} s after a start-up of "
        f"{r.startup:.1f} s, replicas {r.spread:.1f} s apart; {r.landed}/{r.expected} changes "
        f"landed); {len(r.runs)} runs "
        f"({len(r.runs) / r.pairs:.2f} per pair, mean {r.mean_run_seconds():.2f} s); rep "
        f"calls {_kinds(r.counts.get(REP, {}))}; 429s {r.refused}"
    )


def _kinds(counts: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "none"


def _bounds(one: Round) -> list[str]:
    """What caps two replicas, from the work one replica did per pair."""
    rep = one.counts.get(REP, {})
    rep_calls = (sum(rep.values()) - rep.get("search", 0) - rep.get("429", 0)) / one.pairs
    searches = rep.get("search", 0) / one.pairs
    by_budget = REP_PER_10S / 10 / rep_calls if rep_calls else math.inf
    by_search = SEARCH_PER_S / searches if searches else math.inf
    run_s = one.mean_run_seconds()
    by_threads = THREADS / run_s if run_s else math.inf
    bound = min(by_budget, by_search)
    cap = min(2.0, bound / one.throughput) if one.throughput else 0.0
    return [
        (
            f"bounds: the rep budget allows {by_budget:.1f} pairs/s ({rep_calls:.2f} rep calls "
            f"per pair), rep search {by_search:.1f} pairs/s ({searches:.2f} searches per pair); "
            f"one replica's threads {by_threads:.1f} pairs/s ({THREADS} / {run_s:.2f} s per run)"
        ),
        (
            f"bound on the ratio from the shared rep budget: {cap:.2f}x (no number of replicas "
            f"passes {bound:.1f} pairs/s; 1 replica made {one.throughput:.2f})"
        ),
    ]
