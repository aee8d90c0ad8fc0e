"""The command line: parse, build objects, call, map errors to exit codes.

Exit codes: 0 ok, 1 a sync failed, 2 usage or configuration error, 3 (``once``) a pair was not
synced because another live process holds it. Tables go to stdout, logs to stderr (JSON lines
unless stderr is a terminal).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from sync_worker import __version__
from sync_worker.kernel.errors import ConfigError, ConnectorError, RecordRejected
from sync_worker.runtime.config import LoadedConfig, load_config
from sync_worker.runtime.logging import Redactor, configure_logging

if TYPE_CHECKING:  # imported lazily at run time: `--version` and `--help` stay fast
    from sync_worker.runtime.wiring import Runtime

EXIT_OK = 0
EXIT_SYNC_FAILED = 1
EXIT_USAGE = 2
EXIT_PAIR_BUSY = 3

app = typer.Typer(
    name="sync-worker",
    help="Keep shared deals consistent between a partner's CRM and the rep CRM.",
    no_args_is_help=True,
    add_completion=False,
    # Rich tracebacks print frame locals by default, which would leak tokens.
    pretty_exceptions_enable=False,
)
conflicts_app = typer.Typer(
    help="List and resolve conflicts awaiting a person.", no_args_is_help=True
)
dead_letters_app = typer.Typer(help="List and retry dead-lettered records.", no_args_is_help=True)
app.add_typer(conflicts_app, name="conflicts")
app.add_typer(dead_letters_app, name="dead-letters")

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="TOML config file (default: $SYNC_WORKER_CONFIG, then ./config.toml).",
        dir_okay=False,
    ),
]
PairOption = Annotated[str | None, typer.Option("--pair", "-p", help="Only this pair.")]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"sync-worker {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Shared-deal sync worker."""


def fail_config(error: ConfigError) -> typer.Exit:
    """Print one line per problem, no traceback; the caller raises the returned Exit (code 2)."""
    prefix = f"{error.source}: " if error.source else ""
    for problem in error.problems:
        typer.echo(f"config error: {prefix}{problem}", err=True)
    return typer.Exit(EXIT_USAGE)


def load_or_exit(config: Path | None) -> LoadedConfig:
    try:
        loaded = load_config(config)
    except ConfigError as error:
        raise fail_config(error) from None
    worker = loaded.settings.worker
    configure_logging(
        fmt=worker.log_format, level=worker.log_level, secrets=loaded.settings.secret_values()
    )
    return loaded


@contextmanager
def runtime(config: Path | None, *, only_enabled: bool = True) -> Iterator[Runtime]:
    """Load the config and build the runtime; ConfigError anywhere becomes exit 2."""
    from sync_worker.runtime.wiring import build_runtime

    loaded = load_or_exit(config)
    try:
        built = build_runtime(loaded, only_enabled=only_enabled)
    except ConfigError as error:
        raise fail_config(error) from None
    except SQLAlchemyError as exc:
        redactor = Redactor(loaded.settings.secret_values())
        cause = getattr(exc, "orig", None) or exc  # the driver's own message, without SQL
        detail = redactor.redact_text(str(cause).splitlines()[0])
        typer.echo(f"cannot open the state store (worker.state_url): {detail}", err=True)
        raise typer.Exit(EXIT_SYNC_FAILED) from None
    try:
        yield built
    finally:
        built.close()


def _pairs(rt: Runtime, pair: str | None) -> list[str]:
    from sync_worker.runtime.pairs import pair_names

    try:
        return pair_names(pair, rt.pairs)
    except ConfigError as error:
        raise fail_config(error) from None


def _admitted(rt: Runtime, names: list[str]) -> list[str]:
    """``names`` without the pairs their portals cannot serve (each refusal printed)."""
    from sync_worker.ops.preflight import refusal_lines, refused_pairs

    refused = refused_pairs({name: rt.pairs[name] for name in names})
    for line in refusal_lines(refused):
        typer.echo(line, err=True)
    return [name for name in names if name not in refused]


@app.command()
def check(
    config: ConfigOption = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Only validate files; do not contact the CRMs.")
    ] = False,
) -> None:
    """Validate the config and every mapping; then probe each CRM's credentials and schema."""
    from sync_worker.runtime.pairs import load_pair_mappings

    loaded = load_or_exit(config)
    try:
        mappings = load_pair_mappings(loaded)
    except ConfigError as error:
        raise fail_config(error) from None
    typer.echo(f"config ok: {loaded.path}")
    for name, pair in loaded.settings.pairs.items():
        state = "enabled" if pair.enabled else "disabled"
        typer.echo(
            f"  pair {name}: {pair.partner} <-> {pair.rep}, mapping {mappings[name].name} "
            f"({len(mappings[name].fields)} fields), {state}"
        )
    if offline:
        return
    _probe(config)


def _probe(config: Path | None) -> None:
    from sync_worker.ops.probe import probe_pair, scope_warnings

    with runtime(config) as rt:
        problems = [f"pair {n}: {p}" for n, ctx in rt.pairs.items() for p in probe_pair(ctx)]
        warnings = [f"pair {n}: {w}" for n, ctx in rt.pairs.items() for w in scope_warnings(ctx)]
    for warning in warnings:
        typer.echo(f"check warning: {warning}", err=True)
    for problem in problems:
        typer.echo(f"check failed: {problem}", err=True)
    if problems:
        raise typer.Exit(EXIT_SYNC_FAILED)
    typer.echo("CRMs ok: credentials accepted, mapped properties present")


@app.command()
def run(config: ConfigOption = None) -> None:
    """Run the daemon: every enabled pair on its schedule, until SIGTERM/SIGINT."""
    from sync_worker.service.daemon import Daemon

    with runtime(config) as rt:
        daemon = Daemon(rt)
        daemon.install_signal_handlers()
        try:
            daemon.start()
        except OSError as exc:
            worker = rt.config.settings.worker
            typer.echo(
                f"cannot serve metrics on {worker.metrics_host}:{worker.metrics_port}: "
                f"{exc.strerror}; set worker.metrics_port (0 disables the server)",
                err=True,
            )
            raise typer.Exit(EXIT_USAGE) from None
        daemon.wait()


@app.command()
def once(config: ConfigOption = None, pair: PairOption = None) -> None:
    """Run one cycle for every enabled pair (or one); exit 1 if any pair failed, 3 if a pair
    was not synced because another live process holds it (the table names that process)."""
    from sync_worker.cli.tables import console, cycle_notes, cycle_table
    from sync_worker.sync.engine import run_cycle

    with runtime(config) as rt:
        wanted = _pairs(rt, pair)
        names = _admitted(rt, wanted)
        reports = [run_cycle(rt.pairs[name]) for name in names]
    if reports:
        console().print(cycle_table(reports))
    for note in cycle_notes(reports):
        typer.echo(note, err=True)
    if len(names) < len(wanted) or any(r.failed for r in reports):
        raise typer.Exit(EXIT_SYNC_FAILED)
    if any(r.outcome == "skipped" for r in reports):
        raise typer.Exit(EXIT_PAIR_BUSY)


def parse_since(text: str) -> datetime:
    """``2024-05-01`` (midnight UTC) or an ISO-8601 datetime (naive = UTC)."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a date (YYYY-MM-DD) or an ISO-8601 datetime"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@app.command()
def backfill(
    pair: Annotated[str, typer.Option("--pair", "-p", help="The pair to backfill.")],
    since: Annotated[
        datetime,
        typer.Option(parser=parse_since, help="Reconcile everything modified since (YYYY-MM-DD)."),
    ],
    config: ConfigOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; write nothing anywhere.")
    ] = False,
) -> None:
    """A full reconcile of everything in scope since a date, with a progress bar."""
    from sync_worker.cli.backfill import run_backfill

    with runtime(config) as rt:
        (name,) = _pairs(rt, pair)
        if not _admitted(rt, [name]):
            raise typer.Exit(EXIT_SYNC_FAILED)
        report = run_backfill(rt.pairs[name], since=since, dry_run=dry_run)
    if report.failed:
        raise typer.Exit(EXIT_SYNC_FAILED)


@app.command()
def status(config: ConfigOption = None, pair: PairOption = None) -> None:
    """A table per pair: last run, outcome, cursor lag, links, conflicts, dead letters, and
    the process holding the pair now."""
    from sync_worker.cli.tables import console, status_notes, status_table

    with runtime(config, only_enabled=False) as rt:
        rows = rt.store.status(_pairs(rt, pair))
        now = rt.clock.now()
    console().print(status_table(rows, now))
    for note in status_notes(rows):
        typer.echo(note)


@app.command()
def prune(
    config: ConfigOption = None,
    days: Annotated[
        int | None,
        typer.Option(min=1, help="Keep this many days of history (default: worker.history_days)."),
    ] = None,
) -> None:
    """Delete old history: the change log, the run log, resolved conflicts and dead letters.

    Links, their agreed values, cursors and open items are never deleted. The daemon does this
    once a day by itself."""
    with runtime(config, only_enabled=False) as rt:
        keep = days or rt.config.settings.worker.history_days
        counts = rt.prune_history(days)
    if counts is None:
        typer.echo("worker.history_days is 0: history is kept forever; nothing was deleted")
        return
    typer.echo(
        f"deleted history older than {keep} days: {counts.changes} changes, {counts.runs} "
        f"runs, {counts.conflicts} resolved conflicts, {counts.dead_letters} resolved dead letters"
    )


@app.command()
def explain(
    deal_id: Annotated[str, typer.Argument(help="A partner or rep deal id.")],
    pair: Annotated[str, typer.Option("--pair", "-p", help="The pair the deal belongs to.")],
    config: ConfigOption = None,
) -> None:
    """Per field: the three values, the rule, the decision, and the changes made, with times."""
    from sync_worker.cli.tables import console, explanation_tables
    from sync_worker.ops.explain import explain as explain_deal

    with runtime(config, only_enabled=False) as rt:
        (name,) = _pairs(rt, pair)
        try:
            result = explain_deal(rt.pairs[name], deal_id)
        except ConnectorError as exc:
            typer.echo(f"cannot read the deals: {exc}", err=True)
            raise typer.Exit(EXIT_SYNC_FAILED) from None
    out = console()
    for item in explanation_tables(result):
        out.print(item)


@conflicts_app.command("list")
def conflicts_list(config: ConfigOption = None, pair: PairOption = None) -> None:
    """Open conflicts (fields whose rule is manual and both sides changed)."""
    from sync_worker.cli.tables import conflicts_table, console

    with runtime(config, only_enabled=False) as rt:
        rows = [c for name in _pairs(rt, pair) for c in rt.store.open_conflicts(name)]
    console().print(conflicts_table(rows))


@conflicts_app.command("resolve")
def conflicts_resolve(
    conflict_id: Annotated[int, typer.Argument(help="The conflict's id (see `conflicts list`).")],
    pair: Annotated[str, typer.Option("--pair", "-p", help="The conflict's pair.")],
    take: Annotated[str, typer.Option("--take", help="partner, rep or dismiss.")],
    config: ConfigOption = None,
) -> None:
    """Take one side's current value (written to the other side), or dismiss the conflict."""
    from sync_worker.ops.resolution import resolve_conflict

    with runtime(config, only_enabled=False) as rt:
        (name,) = _pairs(rt, pair)
        try:
            done = resolve_conflict(rt.pairs[name], conflict_id, take, run_id="manual")
        except ConfigError as error:
            raise fail_config(error) from None
        except (RecordRejected, ConnectorError) as exc:
            typer.echo(f"not resolved: {exc}", err=True)
            raise typer.Exit(EXIT_SYNC_FAILED) from None
    where = f"; wrote {done.value!r} to the {done.written_to}" if done.written_to else ""
    typer.echo(f"conflict {conflict_id} ({done.conflict.field}) resolved: {done.taken}{where}")


@dead_letters_app.command("list")
def dead_letters_list(config: ConfigOption = None, pair: PairOption = None) -> None:
    """Records that could not be synced, with the reason and the next attempt."""
    from sync_worker.cli.tables import console, dead_letters_table

    with runtime(config, only_enabled=False) as rt:
        rows = [row for name in _pairs(rt, pair) for row in rt.store.dead_letters(name)]
    console().print(dead_letters_table(rows))


@dead_letters_app.command("retry")
def dead_letters_retry(
    ids: Annotated[list[int] | None, typer.Argument(help="Letter ids (default: all).")] = None,
    config: ConfigOption = None,
    pair: PairOption = None,
) -> None:
    """Make dead letters due now: the next cycle (or `once`) retries them."""

    with runtime(config, only_enabled=False) as rt:
        names = _pairs(rt, pair) if pair else [None]
        count = sum(
            rt.store.retry_dead_letters_now(name, ids or None, rt.clock.now()) for name in names
        )
    typer.echo(f"{count} dead letter(s) will be retried on the next cycle")


@app.command()
def health(config: ConfigOption = None) -> None:
    """Ask the running daemon's /healthz (for container health checks); exit 1 if unhealthy."""
    import httpx

    loaded = load_or_exit(config)
    worker = loaded.settings.worker
    host = "127.0.0.1" if worker.metrics_host in ("0.0.0.0", "::") else worker.metrics_host  # noqa: S104
    try:
        response = httpx.get(f"http://{host}:{worker.metrics_port}/healthz", timeout=5)
    except httpx.HTTPError as exc:
        typer.echo(f"unhealthy: {type(exc).__name__}", err=True)
        raise typer.Exit(EXIT_SYNC_FAILED) from None
    typer.echo(response.text)
    if response.status_code != 200:
        raise typer.Exit(EXIT_SYNC_FAILED)


@app.command()
def sandbox(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (portals at http://HOST:PORT/<portal>).")] = 8765,
    seed_demo: Annotated[
        bool, typer.Option("--seed-demo/--empty", help="Seed demo shared deals.")
    ] = True,
    tier: Annotated[str, typer.Option(help="Rate-limit tier of both portals.")] = "free",
    deals: Annotated[int, typer.Option(help="How many demo shared deals to seed.")] = 300,
) -> None:
    """Serve two local HubSpot-like portals (partner and rep) for trying the worker."""
    from hubspot_sandbox import serve

    configure_logging(fmt="auto", level="info")
    serve(host, port, seed_demo=seed_demo, tier=tier, deals=deals)


@app.command()
def demo(config: ConfigOption = None) -> None:
    """Start the sandbox CRMs, sync, make edits on both sides, sync again, show what and why."""
    from sync_worker.cli.demo import run_demo

    code = run_demo(config or Path("config.example.toml"))
    raise typer.Exit(code)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interactive only
        sys.exit(130)
