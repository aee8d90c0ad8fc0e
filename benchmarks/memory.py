"""Peak RSS of the worker process during a backfill of N linked deals (target: <= 200 MB).

Run: ``.venv/bin/python -m benchmarks.memory [--deals 100000] [--tier unlimited]``

The sandbox runs in a subprocess (see :mod:`benchmarks.common`), so this process holds only what
the worker holds: the engine, two HubSpot connectors, the SQLite state (a file; SQLite's page
cache is in this process and counts) and the pages in flight. This process never imports the
sandbox. ``--tier unlimited`` switches rate limiting off on both ends so the run is bound by
CPU, not by HubSpot's limits. Peak RSS is ``getrusage(RUSAGE_SELF).ru_maxrss``, which includes
the interpreter and the imported libraries; the baseline after imports is shown for that reason.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import (
    Timing,
    backfill,
    counts_line,
    peak_rss_mb,
    print_table,
    seeded_sandbox,
    worker_pair,
)
from sync_worker.sync.engine import CycleReport

TARGET_MB = 200.0
COUNT_KEYS = ("pulled.partner", "pulled.rep", "reconciled", "updated.partner", "updated.rep",
              "dead_lettered", "write_failed")  # fmt: skip


def current_rss_mb() -> float | None:
    """Resident set now (Linux ``/proc``; None elsewhere)."""
    try:
        fields = Path("/proc/self/status").read_text(encoding="ascii").splitlines()
    except OSError:
        return None
    for line in fields:
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


@dataclass(frozen=True, slots=True)
class Result:
    deals: int
    tier: str
    baseline_mb: float
    ready_mb: float | None
    peak_mb: float
    after_mb: float | None
    timing: Timing
    report: CycleReport

    @property
    def wall(self) -> float:
        return self.timing.wall


def run(deals: int, *, tier: str = "unlimited") -> Result:
    """Seed a sandbox subprocess, backfill it, and read this process's RSS around the run."""
    baseline = peak_rss_mb()
    with seeded_sandbox(deals, tier=tier) as sandbox:
        print(f"sandbox seeded with {deals} linked pairs in {sandbox.seed_seconds} s")
        with worker_pair(sandbox, tier=tier) as worker:
            ready = current_rss_mb()
            with Timing.measure(sandbox) as timing:
                report = backfill(worker.ctx)
            after = current_rss_mb()
    return Result(deals, tier, baseline, ready, peak_rss_mb(), after, timing, report)


def show(result: Result) -> None:
    per_s = result.deals / result.wall if result.wall else 0.0
    rows = [
        ("deals (linked pairs)", str(result.deals)),
        ("tier", result.tier),
        ("cycle", f"{result.report.outcome} {result.report.error or ''}".strip()),
        ("counts", counts_line(result.report.counts, COUNT_KEYS)),
        *result.timing.rows(),
        ("throughput", f"{per_s:.0f} pairs/s"),
        ("baseline RSS after imports", f"{result.baseline_mb:.1f} MB"),
        ("RSS with the pair built", _mb(result.ready_mb)),
        ("RSS after the backfill", _mb(result.after_mb)),
        ("peak RSS (ru_maxrss)", f"{result.peak_mb:.1f} MB (target <= {TARGET_MB:.0f} MB)"),
        ("peak / target", f"{result.peak_mb / TARGET_MB:.2f}"),
        ("peak above baseline", f"{result.peak_mb - result.baseline_mb:.1f} MB"),
    ]
    print_table(f"worker memory, backfill of {result.deals} linked deals", rows)
    print(verdict(result))


def _mb(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} MB"


def verdict(result: Result) -> str:
    if result.report.outcome != "ok":
        return f"VERDICT memory: misses target: the cycle ended {result.report.outcome}"
    if result.peak_mb > TARGET_MB:
        over = result.peak_mb - TARGET_MB
        return (
            f"VERDICT memory: misses target: peak RSS {result.peak_mb:.1f} MB, {over:.1f} MB over"
        )
    return (
        f"VERDICT memory: meets target: peak RSS {result.peak_mb:.1f} MB <= {TARGET_MB:.0f} MB "
        f"({result.deals} deals in {result.wall:.1f} s)"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.memory",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--tier", default="unlimited", help="sandbox and client tier")
    args = parser.parse_args(argv)
    show(run(args.deals, tier=args.tier))


if __name__ == "__main__":
    main()
