"""What the CLI prints: rich tables for people (plain text when not a terminal)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table

from sync_worker.cli.documents import outcome
from sync_worker.ops.explain import Explanation
from sync_worker.state.base import ChangeEntry, ConflictEntry, DeadLetter, PairStatus
from sync_worker.state.progress import PairProgress
from sync_worker.sync.discoverer import DiscoveryReport
from sync_worker.sync.engine import CycleReport
from sync_worker.sync.writers import Intention


def console() -> Console:
    """Output as wide as the terminal (``$COLUMNS`` when not a terminal, else rich's 80).
    Scripts should read ``--json`` instead."""
    return Console(highlight=False, soft_wrap=False)


def fitted(table: Table, out: Console) -> RenderableType:
    """``table`` as it fits ``out``: cells wrap, never cut; when even whole words do not fit
    side by side, one small ``field  value`` table per row (like ``psql``'s expanded view)."""
    for column in table.columns:
        column.overflow = "fold"
    if _whole_words_width(table) <= out.width:
        return table
    headers = [str(column.header) for column in table.columns]
    rows = list(zip(*(list(column.cells) for column in table.columns), strict=True))
    records: list[RenderableType] = []
    for number, row in enumerate(rows, start=1):
        record = Table(
            title=f"{table.title} ({number}/{len(rows)})", show_header=False, expand=True
        )
        record.box = box.SIMPLE
        record.add_column(style="bold", no_wrap=True)
        record.add_column(overflow="fold", ratio=1)  # the value takes the room left
        for header, cell in zip(headers, row, strict=True):
            record.add_row(header, cell)
        records.append(record)
    return Group(*records) if records else table


def _whole_words_width(table: Table) -> int:
    """The width at which no word of a header or cell has to be broken (borders included)."""
    widest = [
        max(
            (len(word) for text in (column.header, *column.cells) for word in str(text).split()),
            default=1,
        )
        for column in table.columns
    ]
    return sum(widest) + 3 * len(widest) + 1


def show(*items: RenderableType) -> None:
    """Print tables (fitted to the terminal) and lines to stdout."""
    out = console()
    for item in items:
        out.print(fitted(item, out) if isinstance(item, Table) else item)


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "-"
    seconds = int((now - moment).total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


def cycle_table(reports: Sequence[CycleReport]) -> Table:
    table = Table(title="sync cycles")
    for column in (
        "pair",
        "outcome",
        "pulled p/r",
        "created p/r",
        "updated p/r",
        "fields",
        "conflicts",
        "dead letters",
        "gone",
        "API calls",
        "seconds",
        "error",
    ):
        table.add_column(column)
    for r in reports:
        c = r.counts
        table.add_row(
            r.pair,
            r.outcome,
            f"{c.get('pulled.partner', 0)}/{c.get('pulled.rep', 0)}",
            f"{c.get('created.partner', 0)}/{c.get('created.rep', 0)}",
            f"{c.get('updated.partner', 0)}/{c.get('updated.rep', 0)}",
            str(c.get("fields_changed", 0)),
            str(c.get("conflicts", 0)),
            str(c.get("dead_lettered", 0)),
            str(c.get("gone", 0)),
            str(r.api_calls),
            f"{r.duration_seconds:.2f}",
            r.error or "",
        )
    return table


def status_table(
    rows: Iterable[PairStatus], progress: Sequence[PairProgress], now: datetime
) -> Table:
    by_pair = {p.pair: p for p in progress}
    table = Table(title="pairs")
    for column in ("pair", "last run", "outcome", "synced up to", "lag", "inbox", "links"):
        table.add_column(column)
    for column in ("open conflicts", "dead letters", "failures in a row", "last failure"):
        table.add_column(column)
    table.add_column("held by", no_wrap=True)  # whole: it names a host and a pid
    for row in rows:
        done = by_pair[row.pair]
        table.add_row(
            row.pair,
            _when(row.last_run.started_at if row.last_run else None),
            outcome(row),
            _when(done.synced_up_to) if done.synced_up_to else "never",
            _ago(done.synced_up_to, now),
            f"{row.inbox} (oldest {_ago(row.inbox_since, now)})" if row.inbox else "0",
            str(row.links),
            str(row.open_conflicts),
            str(row.dead_letters),
            str(row.consecutive_failures),
            f"{_when(done.last_failure_at)}: {done.last_failure}" if done.last_failure else "",
            row.lease_holder or "",
        )
    return table


def conflicts_table(conflicts: Iterable[ConflictEntry]) -> Table:
    table = Table(title="open conflicts")
    for column in ("id", "partner deal", "rep deal", "field", "partner", "rep", "base", "since"):
        table.add_column(column)
    for c in conflicts:
        table.add_row(
            str(c.id),
            c.partner_id,
            c.rep_id,
            c.field,
            c.partner_value or "(empty)",
            c.rep_value or "(empty)",
            c.base_value or "(empty)",
            _when(c.detected_at),
        )
    return table


def dead_letters_table(rows: Iterable[tuple[str, DeadLetter]]) -> Table:
    table = Table(title="dead letters")
    for column in ("id", "pair", "side", "deal", "attempts", "next attempt", "reason"):
        table.add_column(column)
    for pair, d in rows:
        table.add_row(
            str(d.id),
            pair,
            str(d.side),
            d.record_id,
            str(d.attempts),
            _when(d.next_attempt_at) if d.next_attempt_at else "parked: retry by hand",
            d.reason,
        )
    return table


def intentions_table(intentions: Iterable[Intention]) -> Table:
    table = Table(title="dry run: writes that would be made")
    for column in ("side", "action", "deal", "properties"):
        table.add_column(column)
    for i in intentions:
        props = ", ".join(f"{k}={v!r}" for k, v in sorted(i.properties.items()))
        table.add_row(str(i.side), i.action, i.record_id, props)
    return table


def explanation_tables(exp: Explanation) -> list[Table | str]:
    out: list[Table | str] = []
    if exp.link is None:
        return [f"{exp.pair}: deal {exp.deal_id}: {exp.note}"]
    head = (
        f"{exp.pair}: partner deal {exp.link.partner_id} <-> rep deal {exp.link.rep_id} "
        f"(link {exp.link.status}; base agreed {_when(exp.base_at)})"
    )
    out.append(head)
    if exp.note:
        out.append(exp.note)
    if exp.fields:
        table = Table(title="fields now")
        for column in ("field", "rule", "direction", "partner", "rep", "base", "decision"):
            table.add_column(column)
        for f in exp.fields:
            table.add_row(
                f.field,
                f.rule,
                f.direction,
                f.partner_value or "(empty)",
                f.rep_value or "(empty)",
                f.base_value or "(empty)",
                f.decision,
            )
        out.append(table)
    if exp.history:
        table = Table(title="changes the worker made (newest first)")
        for column in ("when", "written to", "field", "old", "new", "why"):
            table.add_column(column)
        for h in exp.history:
            table.add_row(
                _when(h.at),
                str(h.side_written),
                h.field,
                h.old_value or "(empty)",
                h.new_value or "(empty)",
                h.reason,
            )
        out.append(table)
    if exp.conflicts:
        out.append(conflicts_table(exp.conflicts))
    return out


def planned_table(changes: Iterable[ChangeEntry], title: str = "field changes planned") -> Table:
    table = Table(title=title)
    for column in ("partner deal", "rep deal", "written to", "field", "old", "new", "why"):
        table.add_column(column)
    for c in changes:
        table.add_row(
            c.partner_id,
            c.rep_id,
            str(c.side_written),
            c.field,
            c.old_value or "(empty)",
            c.new_value or "(empty)",
            c.reason,
        )
    return table


def cycle_notes(reports: Iterable[CycleReport]) -> list[str]:
    """One whole line per pair that did not sync, saying why (a table cell would wrap it)."""
    return [
        f"pair {r.pair} {'not synced' if r.outcome == 'skipped' else r.outcome}: {r.error}"
        for r in reports
        if r.error and r.outcome in ("failed", "skipped")
    ]


def discovery_notes(reports: Iterable[DiscoveryReport]) -> list[str]:
    """One line per rep discovery: what it queued for how many pairs, or why it failed."""
    notes = []
    for r in reports:
        if not r.ran:
            notes.append(f"rep discovery of {r.endpoint}: another process runs it; not run here")
        elif r.failed:
            notes.append(f"rep discovery of {r.endpoint} failed: {r.error}")
        else:
            notes.append(
                f"rep discovery of {r.endpoint}: {r.pulled} changed, "
                f"{sum(r.routed.values())} queued for {len(r.routed)} pairs, "
                f"{r.api_calls} API calls"
            )
    return notes


def status_notes(rows: Iterable[PairStatus]) -> list[str]:
    """Lines under the status table for what needs a person's eye: why the last run failed
    (the endpoint whose token was refused, the daily limit and when it resets), and linked
    deals not syncing because they are out of scope."""
    notes = []
    for row in rows:
        last = row.last_run
        if last is not None and last.outcome == "failed" and last.error:
            notes.append(f"{row.pair}: last run failed: {last.error}")
        if row.out_of_scope:
            notes.append(
                f"{row.pair}: {row.out_of_scope} linked deals out of scope (not syncing; "
                f"`sync-worker explain --pair {row.pair} DEAL_ID` names the filter)"
            )
    return notes
