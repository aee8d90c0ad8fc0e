"""Many partners, one rep CRM: the real worker, through its CLI, against one rep portal and P
partner portals served by ONE sandbox process (issue 11).

Run: ``.venv/bin/python -m benchmarks.many_pairs [--quick] [--pairs 20 1000] [--deals 20]
[--replica-pairs 200] [--pg-url URL]``

Set-up, per case: the fleet (:mod:`benchmarks.fleet`) seeds D shared deals per pair by bulk
load, half registered partner deals, half rep deals for the pair's account; a generated config
(:mod:`benchmarks.worker_cli`: one rep endpoint, P partner endpoints, P pairs, the default
mapping) links them with a first ``sync-worker once`` and its echo cycle, unlimited (set-up is
not measured). Then every portal is switched to its measured tier and requests are counted in
the sandbox, per portal and kind (search, read, write, metadata, 429).

**Scale** (P = 20 and 1,000; SQLite state; every portal at the free tier, no latency):

* rep searches per idle ``once``: floor 1 per rep endpoint (target 1);
* rep calls per day when idle at a 5-minute interval = 288 x the rep calls of an idle cycle
  (the metadata a process reads once at start left out); floor 288 x 1 search; target <= 1 %
  of the free daily limit (2,500);
* one ``once`` round with 1 % of the deals changed (alternately on the partner and the rep
  side, in distinct pairs): wall time against the **time floor** the free tier's limits impose
  on the ideal calls of the work, per portal max(searches / 5 per s, other calls / 10 per s),
  the slowest portal's. Ideal calls: one rep search (max(1, ceil(C_rep / 200))),
  ceil(C_partner / 100) rep counterpart reads and as many rep writes; one search per partner
  portal (each is its own account); a read and a write in each partner portal a rep-side change
  lands in.

**Replicas** (:mod:`benchmarks.scale_out`; 200 pairs, PostgreSQL state; ``--pg-url``, else
``$SYNC_WORKER_BENCH_PG_URL`` or ``$SYNC_WORKER_TEST_PG_URL``; skipped without one).
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import print_table
from benchmarks.fleet import REP, Fleet, running_fleet
from benchmarks.scale_out import replicas_case, setup_links
from benchmarks.worker_cli import (
    OnceRun,
    Setting,
    counts_by_kind,
    read_runs,
    run_once,
    tail,
    write_config,
)

CYCLES_PER_DAY = 24 * 60 // 5
FREE_DAILY = 250_000
DAILY_TARGET = FREE_DAILY // 100
SEARCH_PER_S, FREE_PER_S = 5, 10
SEARCH_PAGE, BATCH = 200, 100
CHANGED = 0.01
PG_ENVS = ("SYNC_WORKER_BENCH_PG_URL", "SYNC_WORKER_TEST_PG_URL")


@dataclass(frozen=True, slots=True)
class Step:
    """A measured ``once``: its requests per portal and kind, and its wall time."""

    run: OnceRun
    counts: dict[str, dict[str, int]]

    def rep(self, kind: str) -> int:
        return self.counts.get(REP, {}).get(kind, 0)

    def rep_calls(self, *, metadata: bool = False) -> int:
        by_kind = self.counts.get(REP, {})
        return sum(n for k, n in by_kind.items() if k != "429" and (metadata or k != "metadata"))

    def partners(self, kind: str) -> int:
        return sum(by.get(kind, 0) for portal, by in self.counts.items() if portal != REP)

    @property
    def refused(self) -> int:
        return sum(by.get("429", 0) for by in self.counts.values())


def measured_once(fleet: Fleet, config: Path, log: Path) -> Step:
    before = fleet.counters()
    done = run_once(config, log)
    if done.returncode != 0:
        print(f"  (sync-worker once exited {done.returncode}:)\n{tail(done.log, 8)}")
    return Step(done, counts_by_kind(before, fleet.counters()))


def changes_for(pairs: int, deals: int) -> list[list[object]]:
    """1 % of all shared deals, one per pair spread evenly, alternately partner and rep side."""
    count = max(1, round(pairs * deals * CHANGED))
    return [[1 + (k * pairs) // count % pairs, "partner" if k % 2 == 0 else "rep"]
            for k in range(count)]  # fmt: skip


def time_floor(pairs: int, changes: Sequence[Sequence[object]]) -> tuple[int, float]:
    """Ideal calls of a round with ``changes`` and the time the free tier's limits impose."""
    on_partner = sum(1 for _, side in changes if side == "partner")
    on_rep = len(changes) - on_partner
    rep_search = max(1, math.ceil(on_rep / SEARCH_PAGE))
    rep_other = 2 * math.ceil(on_partner / BATCH)
    partner_pairs = len({pair for pair, side in changes if side == "rep"})
    calls = rep_search + rep_other + pairs + 2 * partner_pairs
    rep_time = max(rep_search / SEARCH_PER_S, rep_other / FREE_PER_S)
    partner_time = max(1 / SEARCH_PER_S, (2 / FREE_PER_S) if partner_pairs else 0.0)
    return calls, max(rep_time, partner_time)


@dataclass(frozen=True, slots=True)
class ScaleResult:
    """One scale case: its set-up, the idle cycle, and the round with 1 % changed."""

    pairs: int
    deals: int
    fleet: Fleet
    setup: tuple[float, int]
    idle: Step
    round: Step
    changes: list[list[object]]
    landed: int
    startup: float
    """Seconds from the round's process start to its first pair run."""


def scale_case(pairs: int, deals: int, directory: Path) -> ScaleResult:
    state_url = f"sqlite:///{directory / 'state.db'}"
    with running_fleet(pairs, deals) as fleet:
        setup = setup_links(fleet, directory, state_url)
        fleet.ask("tier", portals="all", tier="free")
        config = write_config(directory, fleet, Setting(state_url), "free")
        idle = measured_once(fleet, config, directory / "idle.log")
        changes = changes_for(pairs, deals)
        expect = fleet.ask("edit", changes=changes)["expect"]
        started = time.time()
        round_ = measured_once(fleet, config, directory / "round.log")
        landed = fleet.ask("landed", expect=expect)["landed"]
    runs = [r for r in read_runs(state_url) if r.started.timestamp() >= started]
    first_run = min((r.started.timestamp() for r in runs), default=started) - started
    return ScaleResult(pairs, deals, fleet, setup, idle, round_, changes, landed, first_run)


def print_scale(r: ScaleResult) -> None:
    idle, round_ = r.idle, r.round
    per_day = idle.rep_calls() * CYCLES_PER_DAY
    calls_floor, floor_s = time_floor(r.pairs, r.changes)
    round_calls = sum(
        n for by in round_.counts.values() for k, n in by.items() if k not in ("429", "metadata")
    )
    metadata = sum(by.get("metadata", 0) for by in round_.counts.values())
    rows = [
        (
            "set-up",
            (
                f"{r.pairs} pairs x {r.deals} linked deals seeded in {r.fleet.seed_seconds:.1f} s "
                f"(fleet RSS {r.fleet.rss_mb:.0f} MB); first sync {r.setup[0]:.0f} s "
                f"({r.setup[1]} writes)"
            ),
        ),
        ("idle: rep searches", f"{idle.rep('search')} / floor 1 = {idle.rep('search')}x"),
        (
            "idle: rep calls",
            (
                f"{idle.rep_calls()} (+{idle.rep('metadata')} metadata read once per process "
                f"start); partner searches {idle.partners('search')} (floor {r.pairs})"
            ),
        ),
        (
            "idle: rep calls per day",
            (
                f"{per_day:,} / floor {CYCLES_PER_DAY} = {per_day / CYCLES_PER_DAY:.1f}x = "
                f"{per_day / FREE_DAILY:.2%} of the free daily limit"
            ),
        ),
        (
            "1 % round: calls",
            (
                f"{round_calls} / floor {calls_floor} = {round_calls / calls_floor:.2f}x (rep: "
                f"search {round_.rep('search')}, read {round_.rep('read')}, write "
                f"{round_.rep('write')}; partners: search {round_.partners('search')}, read "
                f"{round_.partners('read')}, write {round_.partners('write')}); "
                f"{len(r.changes)} changes, {r.landed} landed; + {metadata} metadata calls"
            ),
        ),
        (
            "1 % round: wall time",
            (
                f"{round_.run.wall:.1f} s / time floor {floor_s:.1f} s = "
                f"{round_.run.wall / floor_s:.0f}x (process start to first pair run "
                f"{r.startup:.1f} s; {1000 * round_.run.wall / r.pairs:.0f} ms per pair)"
            ),
        ),
        ("429s", f"idle {idle.refused}, round {round_.refused}"),
    ]
    print_table(f"{r.pairs:,} pairs, every portal at the free tier, SQLite state", rows)
    print(f"idle rep searches per cycle: {idle.rep('search')}; target 1")
    print(f"idle rep calls per day: {per_day:,}; target <= {DAILY_TARGET:,}")
    print(f"429s: {idle.refused + round_.refused}; target 0")
    ok = idle.rep("search") <= 1 and per_day <= DAILY_TARGET and r.landed == len(r.changes)
    ok = ok and idle.refused + round_.refused == 0
    print(f"{r.pairs:,} pairs verdict: {'met' if ok else 'NOT met'}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.many_pairs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="20 pairs; 40 replica pairs")
    parser.add_argument(
        "--pairs", type=int, nargs="*", default=[20, 1_000], help="scale cases (none: skip)"
    )
    parser.add_argument("--deals", type=int, default=20, help="shared deals per pair")
    parser.add_argument("--replica-pairs", type=int, default=200)
    parser.add_argument("--pg-url", default=next(filter(None, map(os.environ.get, PG_ENVS)), None))
    parser.add_argument("--keep", type=Path, help="keep configs and worker logs in this folder")
    args = parser.parse_args(argv)
    cases = [20] if args.quick else args.pairs
    replica_pairs = 40 if args.quick else args.replica_pairs
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="many-pairs-") as scratch:
        tmp = args.keep or Path(scratch)
        for pairs in cases:
            directory = tmp / f"p{pairs}"
            directory.mkdir(parents=True)
            print_scale(scale_case(pairs, args.deals, directory))
        if args.pg_url:
            directory = tmp / "replicas"
            directory.mkdir(parents=True)
            replicas_case(replica_pairs, args.deals, args.pg_url, directory, timeout=240)
        else:
            print(f"\nreplicas: skipped (no PostgreSQL: pass --pg-url or set {PG_ENVS[0]})")
    print(
        f"\nmany_pairs took {time.monotonic() - started:.0f} s "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
