"""The real engine over the sandbox at free tier: API calls per case against IDEAL floors.

Run: ``.venv/bin/python -m benchmarks.engine_calls [--deals 20000] [--quick]``

Each case runs real cycles (engine, HubSpot connectors over loopback HTTP, SQLite state) against
a sandbox subprocess enforcing HubSpot's free-tier limits (100 calls per 10 s, search 5 per s,
per portal), with a 2 s search-index lag. Calls are counted by route from the sandbox's own
counters. A case's **floor** is computed from the work alone, never from the calls made:

* ``ceil(N_side / 200)`` searches per side, at least 1 (N_side: records its pull must yield);
* ``ceil(R / 100)`` counterpart reads (R: pulled records whose counterpart must be read);
* ``ceil(W / 100)`` live reads of records from a search that a plan writes (W);
* ``ceil(C / 50)`` history reads per side, for newest-wins conflicts settled by property
  history (C) — the live reads of those records come with them;
* ``ceil(U_side / 100)`` writes per side (U: records written; a creation writes the target,
  its link-back the origin);
* ``ceil(E_side / 200)`` searches per side for the echo cycle after a case (E: records the case
  wrote on that side), at least 1;
* no metadata call: each case starts with the caches a running daemon keeps warm (users and
  owners for the deal team's directory, property definitions for scope checks), each costing
  one call per portal every 5 minutes.

Cases: the first sync of N registered partner deals; a backfill of N linked deals of which 10 %
differ (newest edit on alternate sides); an idle cycle after that burst (once the lag allowance
has passed); 1, 150 and 1,000 deals changed on the partner side; and the echo cycle after each.
The **time floor** is what the free-tier limits impose on the *ideal* calls: per portal
``max(searches / 5 per s, other calls / 100 per 10 s)``, the slower portal's.

Targets (issue 10): every case <= 1.15 x its call floor, the backfill <= 1.3 x the time floor of
its ideal calls, an idle cycle after the burst = 1 search per side, and no 429.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from benchmarks.common import (
    EPOCH,
    PORTALS,
    SandboxInfo,
    Worker,
    print_table,
    seeded_sandbox,
    worker_pair,
)
from sync_worker.sync.engine import CycleOptions, CycleReport, run_cycle

TIER = "free"
LAG_SECONDS = 2.0
ALLOWANCE_SECONDS = 6.0
"""The connectors' lag allowance (``search_overlap_seconds``), above the sandbox's lag."""
CALL_TARGET = 1.15
TIME_TARGET = 1.3
SEARCH_PER_S, PER_10S = 5, 100
SEARCH_PAGE, BATCH, HISTORY_BATCH = 200, 100, 50
METADATA = ("owners", "pipelines", "properties")


def pages(n: int, size: int) -> int:
    return math.ceil(n / size) if n > 0 else 0


@dataclass(frozen=True, slots=True)
class Work:
    """What a case must do, by side: the inputs of its floor."""

    pulled: dict[str, int]
    counterpart_reads: int = 0
    live_reads: dict[str, int] = field(default_factory=dict)
    conflicts: int = 0
    written: dict[str, int] = field(default_factory=dict)

    def calls(self) -> dict[str, dict[str, int]]:
        """The ideal calls, per portal and kind (``search`` or ``other``)."""
        ideal: dict[str, dict[str, int]] = {}
        for portal in PORTALS:
            other = "rep" if portal == "partner" else "partner"
            reads = (
                self._counterparts_on(portal, other)
                + pages(self.live_reads.get(portal, 0), BATCH)
                + pages(self.conflicts, HISTORY_BATCH)
                + pages(self.written.get(portal, 0), BATCH)
            )
            ideal[portal] = {
                "search": max(1, pages(self.pulled[portal], SEARCH_PAGE)),
                "other": reads,
            }
        return ideal

    def _counterparts_on(self, portal: str, other: str) -> int:
        """Counterpart reads land on the side opposite to the pull: split as the pulls split."""
        total = self.pulled[other] + self.pulled[portal]
        share = self.pulled[other] / total if total else 0.0
        return math.ceil(pages(self.counterpart_reads, BATCH) * share)

    def floor(self) -> int:
        return sum(sum(kinds.values()) for kinds in self.calls().values())

    def time_floor(self) -> float:
        return max(
            max(c["search"] / SEARCH_PER_S, c["other"] * 10 / PER_10S)
            for c in self.calls().values()
        )


@dataclass(slots=True)
class Result:
    name: str
    calls: dict[str, dict[str, int]]
    refused: int
    seconds: float
    work: Work
    report: CycleReport

    @property
    def total(self) -> int:
        return sum(sum(by.values()) for by in self.calls.values())

    @property
    def ratio(self) -> float:
        return self.total / self.work.floor()

    def row(self) -> str:
        routes = "; ".join(
            f"{p}: " + ", ".join(f"{k}={v}" for k, v in sorted(by.items()))
            for p, by in self.calls.items()
        )
        return (
            f"{self.total:>5} calls / floor {self.work.floor():>4} = {self.ratio:4.2f}x  "
            f"429s={self.refused}  {self.seconds:6.1f} s "
            f"(time floor {self.work.time_floor():5.1f} s)"
            f"\n      {routes}"
        )


class Counter:
    """Calls the sandbox served per portal and route since the last look."""

    def __init__(self, sandbox: SandboxInfo) -> None:
        self.sandbox = sandbox
        self.last = self._now()

    def _now(self) -> dict[str, dict[str, dict[int, int]]]:
        return {p: self.sandbox.counters(p) for p in PORTALS}

    def take(self) -> tuple[dict[str, dict[str, int]], int]:
        now = self._now()
        calls: dict[str, dict[str, int]] = {}
        refused = 0
        for portal in PORTALS:
            by_route: dict[str, int] = {}
            for route, statuses in now[portal].items():
                before = self.last[portal].get(route, {})
                for status, n in statuses.items():
                    delta = n - before.get(status, 0)
                    if status == 429:
                        refused += delta
                    elif delta:
                        by_route[route] = by_route.get(route, 0) + delta
            calls[portal] = by_route
        self.last = now
        return calls, refused


def run(worker: Worker, counter: Counter, name: str, work: Work, **options: object) -> Result:
    for connector in (worker.ctx.partner, worker.ctx.rep):  # warm, as in a running daemon
        connector.users()
        connector.owners()
        connector.property_definitions()
    counter.take()
    started = time.monotonic()
    report = run_cycle(worker.ctx, CycleOptions(**options))  # type: ignore[arg-type]
    seconds = time.monotonic() - started
    if report.outcome != "ok":
        raise SystemExit(f"{name}: cycle {report.outcome}: {report.error}")
    calls, refused = counter.take()
    return Result(name, calls, refused, seconds, work, report)


def set_lag(sandbox: SandboxInfo) -> None:
    for portal in PORTALS:
        body = {"index_lag_seconds": LAG_SECONDS}
        httpx.post(
            f"{sandbox.base_url(portal)}/__sandbox/faults", json=body, timeout=30
        ).raise_for_status()


def edit_partner(sandbox: SandboxInfo, ids: Sequence[str], amount: int) -> None:
    with httpx.Client(base_url=sandbox.base_url("partner"), timeout=30) as client:
        for n, deal_id in enumerate(ids):
            client.post(
                f"/__sandbox/deals/{deal_id}", json={"properties": {"amount": str(amount + n)}}
            ).raise_for_status()


def partner_ids(sandbox: SandboxInfo) -> list[str]:
    rows = httpx.get(f"{sandbox.base_url('partner')}/__sandbox/deals", timeout=120).json()[
        "results"
    ]
    return [str(r["hs_object_id"]) for r in rows]


def settle(seconds: float = ALLOWANCE_SECONDS + LAG_SECONDS) -> None:
    """Let the index catch up and the lag allowance pass, as between two daemon cycles."""
    time.sleep(seconds)


def first_sync(deals: int) -> list[Result]:
    with seeded_sandbox(deals, tier=TIER, scenario="registered") as sandbox:
        set_lag(sandbox)
        settle()
        with worker_pair(sandbox, tier=TIER, overlap_seconds=ALLOWANCE_SECONDS) as worker:
            counter = Counter(sandbox)
            sync = Work(
                pulled={"partner": deals, "rep": 0},
                written={"rep": deals, "partner": deals},
            )
            results = [run(worker, counter, f"first sync of {deals:,} registered deals", sync)]
            settle()
            echo = Work(pulled={"partner": deals, "rep": deals})
            results.append(run(worker, counter, "  its echo cycle", echo))
    return results


def backfill_then_changes(deals: int) -> list[Result]:
    differ = 0.1
    with seeded_sandbox(deals, tier=TIER, differ=differ) as sandbox:
        set_lag(sandbox)
        settle()
        with worker_pair(sandbox, tier=TIER, overlap_seconds=ALLOWANCE_SECONDS) as worker:
            counter = Counter(sandbox)
            changed = sandbox.differing
            half = changed // 2  # edited later on the partner (even pairs) or the rep (odd)
            backfill = Work(
                pulled={"partner": deals, "rep": deals},
                counterpart_reads=deals,
                conflicts=changed,
                written={"partner": changed - half, "rep": half},
            )
            results = [
                run(
                    worker,
                    counter,
                    f"backfill of {deals:,} linked deals, {differ:.0%} differ",
                    backfill,
                    mode="backfill",
                    since=EPOCH,
                )
            ]
            settle()
            echo = Work(pulled={"partner": changed - half, "rep": half})
            results.append(run(worker, counter, "  its echo cycle", echo))
            settle()
            results.append(
                run(
                    worker,
                    counter,
                    "idle cycle after the burst",
                    Work(pulled={"partner": 0, "rep": 0}),
                )
            )
            ids = partner_ids(sandbox)
            for n in (1, 150, 1_000):
                edit_partner(sandbox, ids[:n], 500_000 + n)
                settle()  # the daemon's next cycle, an interval later
                work = Work(
                    pulled={"partner": n, "rep": 0}, counterpart_reads=n, written={"rep": n}
                )
                results.append(run(worker, counter, f"{n:,} changed on the partner side", work))
                settle()
                results.append(
                    run(worker, counter, "  its echo cycle", Work(pulled={"partner": 0, "rep": n}))
                )
                settle()
    return results


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.engine_calls",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--deals", type=int, default=20_000)
    parser.add_argument("--quick", action="store_true", help="2,000 deals instead of 20,000")
    args = parser.parse_args(argv)
    deals = 2_000 if args.quick else args.deals
    results = first_sync(deals) + backfill_then_changes(deals)
    print_table(
        f"engine calls at {TIER} tier, index lag {LAG_SECONDS:.0f} s, "
        f"allowance {ALLOWANCE_SECONDS:.0f} s",
        [(r.name, r.row()) for r in results],
    )
    worst = max(results, key=lambda r: r.ratio)
    refused = sum(r.refused for r in results)
    backfill = next(r for r in results if r.name.startswith("backfill"))
    idle = next(r for r in results if r.name.startswith("idle"))
    idle_searches = [idle.calls[p].get("search", 0) for p in PORTALS]
    time_ratio = backfill.seconds / backfill.work.time_floor()
    print(
        f"\nworst call ratio: {worst.ratio:.2f}x ({worst.name.strip()}); target <= {CALL_TARGET}x"
    )
    print(
        f"backfill wall time: {backfill.seconds:.1f} s vs ideal time floor "
        f"{backfill.work.time_floor():.1f} s = {time_ratio:.2f}x; target <= {TIME_TARGET}x"
    )
    print(f"idle cycle after the burst: {idle_searches} searches (partner, rep); target [1, 1]")
    ok = worst.ratio <= CALL_TARGET and time_ratio <= TIME_TARGET and idle_searches == [1, 1]
    print(f"429s: {refused}; target 0")
    print(f"verdict: {'met' if ok and refused == 0 else 'NOT met'}")


if __name__ == "__main__":
    main()
