"""Run every benchmark in turn and print its figures, then one summary line per benchmark.

Run: ``.venv/bin/python -m benchmarks [--only NAME ...] [--quick]`` (``make bench``)

Each benchmark runs in its own process (``python -m benchmarks.<name>``): a benchmark's memory,
threads or sandbox subprocess cannot affect the next one's figures, and its output streams as it
is produced. Every module of this package is a benchmark except the helpers listed in
``HELPERS``; the known ones run in ``ORDER``, any new one after them. ``--quick`` scales the
engine-calls, memory and many-pairs benchmarks down (the others run at their defaults).
"""

from __future__ import annotations

import argparse
import pkgutil
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ORDER = ("reconcile_throughput", "connector_calls", "engine_calls", "memory", "many_pairs")
HELPERS = frozenset({"__main__", "common", "fleet", "scale_out", "worker_cli"})
QUICK_ARGS = {
    "engine_calls": ["--quick"],
    "memory": ["--deals", "10000"],
    "many_pairs": ["--quick"],
}
# The lines that state a result against a target, for the summary.
VERDICT = re.compile(r"verdict|target", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Outcome:
    name: str
    returncode: int
    seconds: float
    verdict: str


def benchmark_names() -> list[str]:
    """The benchmark modules of this package: the known order first, then any others."""
    found = {m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)])} - HELPERS
    return [n for n in ORDER if n in found] + sorted(found - set(ORDER))


def run_one(name: str, args: Sequence[str]) -> Outcome:
    """Run ``benchmarks.<name>``, echoing its output; remember its last verdict line."""
    print(f"\n=== benchmarks.{name} {' '.join(args)}".rstrip(), flush=True)
    started = time.monotonic()
    verdict = ""
    command = [sys.executable, "-m", f"benchmarks.{name}", *args]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, bufsize=1) as child:
        assert child.stdout is not None
        for line in child.stdout:
            print(line, end="", flush=True)
            if VERDICT.search(line):
                verdict = line.strip()
    return Outcome(name, child.returncode, time.monotonic() - started, verdict)


def summary(outcomes: Sequence[Outcome], missing: Sequence[str]) -> None:
    print("\n=== summary")
    for outcome in outcomes:
        status = "ok" if outcome.returncode == 0 else f"FAILED (exit {outcome.returncode})"
        print(f"  {outcome.name:<22} {status:<18} {outcome.seconds:6.0f} s  {outcome.verdict}")
    for name in missing:
        print(f"  {name:<22} not present in benchmarks/, skipped")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks")
    parser.add_argument(
        "--quick", action="store_true", help="scale engine_calls, memory and many_pairs down"
    )
    args = parser.parse_args(argv)
    available = benchmark_names()
    wanted = args.only or list(ORDER)
    unknown = sorted(set(args.only or ()) - set(available) - set(ORDER))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; available: {available}")
    names = [n for n in available if n in wanted or not args.only]
    outcomes = [run_one(n, QUICK_ARGS.get(n, []) if args.quick else []) for n in names]
    summary(outcomes, [n for n in wanted if n not in available])
    return 0 if all(o.returncode == 0 for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
