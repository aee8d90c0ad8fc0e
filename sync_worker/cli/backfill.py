"""``backfill``: a full reconcile since a date, with a progress bar on a terminal.

It is the ordinary cycle with both cursors overridden (so it shares every guarantee of a normal
run); ``--dry-run`` swaps the writer for one that only records intentions and skips every state
commit, then prints the plan.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from types import FrameType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from sync_worker.cli.tables import (
    console,
    cycle_table,
    fitted,
    intentions_table,
    planned_table,
)
from sync_worker.kernel.model import Side
from sync_worker.sync.context import PairContext
from sync_worker.sync.engine import CycleOptions, CycleReport, run_cycle


@contextmanager
def stop_on_signal() -> Iterator[threading.Event]:
    """SIGINT/SIGTERM set the returned event (the cycle finishes its page and commits)."""
    stop = threading.Event()

    def handler(_: int, __: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_backfill(ctx: PairContext, *, since: datetime, dry_run: bool) -> CycleReport:
    """Run the backfill, print its summary (and, for a dry run, the plan); return the report."""
    err = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=err, disable=not err.is_terminal) as progress, \
            stop_on_signal() as stop:  # fmt: skip
        tasks = {side: progress.add_task(f"{side} deals", total=None) for side in Side}

        def on_page(side: Side, records: int, total: int | None) -> None:
            task = tasks[side]
            if total is not None and progress.tasks[task].total is None:
                progress.update(task, total=total)
            progress.advance(task, records)

        report = run_cycle(
            ctx,
            CycleOptions(
                mode="backfill", since=since, dry_run=dry_run, stop=stop, progress=on_page
            ),
        )
    out = console()
    out.print(fitted(cycle_table([report]), out))
    if dry_run:
        out.print(fitted(planned_table(report.planned), out))
        out.print(fitted(intentions_table(report.intentions), out))
        out.print("dry run: nothing was written to either CRM or to the state store")
    return report
