"""Commands that show and settle what the worker recorded: status, explain, conflicts,
dead letters. Each list command says so when it is empty; ``--json`` prints a document
(:mod:`sync_worker.cli.documents`) instead of tables."""

from __future__ import annotations

from typing import Annotated

import typer

from sync_worker.cli.common import (
    EXIT_SYNC_FAILED,
    EXIT_USAGE,
    ConfigOption,
    JsonOption,
    PairOption,
    app,
    conflicts_app,
    dead_letters_app,
    fail,
    fail_config,
    pairs_or_exit,
    print_json,
    runtime,
)
from sync_worker.kernel.errors import (
    ConfigError,
    ConflictNotFound,
    ConnectorError,
    WriteRefused,
)
from sync_worker.ops.resolution import Take


@app.command()
def status(
    config: ConfigOption = None, pair: PairOption = None, as_json: JsonOption = False
) -> None:
    """Per pair: last run, outcome, how far behind (the start of the last complete cycle and
    the time since), links, conflicts, dead letters, the last failure and who holds the pair."""
    from sync_worker.cli.documents import status_document
    from sync_worker.cli.tables import show, status_notes, status_table

    with runtime(config, only_enabled=False) as rt:
        names = pairs_or_exit(rt, pair)
        rows, progress = rt.store.status(names), rt.progress(names)
        now, failing = rt.clock.now(), rt.discovery_failures()
    if as_json:
        print_json(status_document(rows, progress, now))
        return
    show(status_table(rows, progress, now))
    for note in [*status_notes(rows), *failing]:
        typer.echo(note)


@app.command()
def explain(
    deal_id: Annotated[str, typer.Argument(help="A partner or rep deal id.")],
    pair: Annotated[str, typer.Option("--pair", "-p", help="The pair the deal belongs to.")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Per field: the three values, the rule, the decision, and the changes made, with times."""
    from sync_worker.cli.documents import explanation_document
    from sync_worker.cli.tables import explanation_tables, show
    from sync_worker.ops.explain import explain as explain_deal

    with runtime(config, only_enabled=False) as rt:
        (name,) = pairs_or_exit(rt, pair)
        try:
            result = explain_deal(rt.pairs[name], deal_id)
        except ConnectorError as exc:
            raise fail(f"cannot read the deals: {exc}", EXIT_SYNC_FAILED) from None
    if as_json:
        print_json(explanation_document(result))
        return
    show(*explanation_tables(result))


@conflicts_app.command("list")
def conflicts_list(
    config: ConfigOption = None, pair: PairOption = None, as_json: JsonOption = False
) -> None:
    """Open conflicts (fields whose rule is manual and both sides changed)."""
    from sync_worker.cli.documents import conflicts_document
    from sync_worker.cli.tables import conflicts_table, show

    with runtime(config, only_enabled=False) as rt:
        rows = [(n, c) for n in pairs_or_exit(rt, pair) for c in rt.store.open_conflicts(n)]
    if as_json:
        print_json(conflicts_document(rows))
    elif not rows:
        typer.echo("no open conflicts")
    else:
        show(conflicts_table(c for _, c in rows))


@conflicts_app.command("resolve")
def conflicts_resolve(
    conflict_id: Annotated[int, typer.Argument(help="The conflict's id (see `conflicts list`).")],
    pair: Annotated[str, typer.Option("--pair", "-p", help="The conflict's pair.")],
    take: Annotated[Take, typer.Option("--take", help="Whose value wins, or dismiss.")],
    config: ConfigOption = None,
) -> None:
    """Take one side's current value (written to the other side), or dismiss the conflict."""
    from sync_worker.ops.resolution import resolve_conflict

    with runtime(config, only_enabled=False) as rt:
        (name,) = pairs_or_exit(rt, pair)
        try:
            done = resolve_conflict(rt.pairs[name], conflict_id, take, run_id="manual")
        except ConflictNotFound as exc:  # a wrong id on the command line: a usage error
            raise fail(f"not resolved: {exc} (see `conflicts list`)", EXIT_USAGE) from None
        except ConfigError as error:
            raise fail_config(error) from None
        except (WriteRefused, ConnectorError) as exc:
            raise fail(f"not resolved: {exc}", EXIT_SYNC_FAILED) from None
    where = f"; wrote {done.value!r} to the {done.written_to}" if done.written_to else ""
    typer.echo(f"conflict {conflict_id} ({done.conflict.field}) resolved: {done.taken}{where}")


@dead_letters_app.command("list")
def dead_letters_list(
    config: ConfigOption = None, pair: PairOption = None, as_json: JsonOption = False
) -> None:
    """Records that could not be synced, with the reason and the next attempt."""
    from sync_worker.cli.documents import dead_letters_document
    from sync_worker.cli.tables import dead_letters_table, show

    with runtime(config, only_enabled=False) as rt:
        rows = [row for n in pairs_or_exit(rt, pair) for row in rt.store.dead_letters(n)]
    if as_json:
        print_json(dead_letters_document(rows))
    elif not rows:
        typer.echo("no dead letters")
    else:
        show(dead_letters_table(rows))


@dead_letters_app.command("retry")
def dead_letters_retry(
    ids: Annotated[list[int] | None, typer.Argument(help="Letter ids (default: all).")] = None,
    config: ConfigOption = None,
    pair: PairOption = None,
) -> None:
    """Make dead letters due now: the next cycle (or `once`) retries them."""

    with runtime(config, only_enabled=False) as rt:
        names = pairs_or_exit(rt, pair) if pair else [None]
        count = sum(
            rt.store.retry_dead_letters_now(name, ids or None, rt.clock.now()) for name in names
        )
    typer.echo(f"{count} dead letter(s) will be retried on the next cycle")
