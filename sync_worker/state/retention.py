"""History retention: old audit rows are deleted, sync state never is.

What goes, once older than the cutoff:

* the change log (``sw_changes``), by the time of the change;
* the run log (``sw_runs``), by the time the run started, except each pair's newest run and
  newest successful run (``status`` and the health count read those);
* resolved conflicts, by when they were resolved, and resolved dead letters, by their last
  attempt.

What stays, whatever its age: links and their base snapshots, cursors, pending creations, open
conflicts and open dead letters. Deleting those would lose edits or create duplicates.

Rows go in chunks, each in a transaction of its own, so a large first prune never holds
SQLite's single write lock for long: a cycle committing meanwhile waits for one chunk at most.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, Table, and_, func, select, tuple_

from sync_worker.state.base import PruneCounts
from sync_worker.state.schema import changes, conflicts, dead_letters, runs

CHUNK_ROWS = 5_000


def prune(
    begin: Callable[[], AbstractContextManager[Connection]],
    before: datetime,
    chunk_rows: int = CHUNK_ROWS,
) -> PruneCounts:
    """Delete the history older than ``before`` (aware); ``begin`` opens a write transaction."""
    return PruneCounts(
        changes=_delete(begin, changes, changes.c.at < before, chunk_rows),
        runs=_delete(begin, runs, _old_runs(before), chunk_rows),
        conflicts=_delete(
            begin,
            conflicts,
            and_(conflicts.c.status == "resolved", conflicts.c.resolved_at < before),
            chunk_rows,
        ),
        dead_letters=_delete(
            begin,
            dead_letters,
            and_(dead_letters.c.status == "resolved", dead_letters.c.last_at < before),
            chunk_rows,
        ),
    )


def _old_runs(before: datetime) -> ColumnElement[bool]:
    run = tuple_(runs.c.pair, runs.c.started_at)
    newest = select(runs.c.pair, func.max(runs.c.started_at)).group_by(runs.c.pair)
    newest_good = newest.where(runs.c.outcome.is_not(None), runs.c.outcome != "failed")
    return and_(runs.c.started_at < before, run.not_in(newest), run.not_in(newest_good))


def _delete(
    begin: Callable[[], AbstractContextManager[Connection]],
    table: Table,
    where: ColumnElement[bool],
    chunk_rows: int,
) -> int:
    key = next(iter(table.primary_key.columns))
    deleted = 0
    while True:
        with begin() as conn:
            ids = conn.execute(select(key).where(where).limit(chunk_rows)).scalars().all()
            if ids:
                conn.execute(table.delete().where(key.in_(ids)))
        deleted += len(ids)
        if len(ids) < chunk_rows:
            return deleted
