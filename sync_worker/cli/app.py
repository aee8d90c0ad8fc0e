"""The command line: parse, build objects, call, map errors to exit codes.

Exit codes: 0 ok, 1 a sync failed (or a CRM or the state store could not be reached), 2 usage or
configuration error. Tables go to stdout, logs to stderr (JSON lines unless stderr is a
terminal). ``--config`` may come before or after the subcommand. The commands live in
:mod:`~sync_worker.cli.inspection` (status, explain, conflicts, dead letters) and
:mod:`~sync_worker.cli.starting` (init, demo, sandbox); this module runs the sync.
"""

from __future__ import annotations

import sys
import tomllib
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sync_worker.cli.common import (
    EXIT_PAIR_BUSY,
    EXIT_SYNC_FAILED,
    EXIT_USAGE,
    ConfigOption,
    PairOption,
    app,
    fail,
    fail_config,
    load_or_exit,
    pairs_or_exit,
    runtime,
)
from sync_worker.kernel.errors import ConfigError
from sync_worker.runtime.config import LoadedConfig, resolve_config_path

if TYPE_CHECKING:
    from sync_worker.runtime.wiring import Runtime

__all__ = ["app", "inspection", "main", "starting"]

# `check` online: a CRM that is down is reported in seconds, not after the daemon's patient
# retries (6 attempts, 30 s timeouts).
_CHECK_ATTEMPTS = 2
_CHECK_TIMEOUT_S = 3.0


@app.command()
def check(
    config: ConfigOption = None,
    offline: Annotated[
        bool,
        typer.Option("--offline", help="Only validate files (no tokens needed); no CRM contact."),
    ] = False,
) -> None:
    """Validate the config and every mapping; then probe each CRM's credentials and schema."""
    from sync_worker.runtime.pairs import load_pair_mappings

    loaded = load_or_exit(config, require_tokens=not offline)
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
    if not offline:
        _probe(loaded)


def _impatient(loaded: LoadedConfig) -> LoadedConfig:
    endpoints = {
        name: endpoint.model_copy(
            update={
                "max_attempts": min(endpoint.max_attempts, _CHECK_ATTEMPTS),
                "timeout_seconds": min(endpoint.timeout_seconds, _CHECK_TIMEOUT_S),
            }
        )
        for name, endpoint in loaded.settings.endpoints.items()
    }
    settings = loaded.settings.model_copy(update={"endpoints": endpoints})
    return loaded.model_copy(update={"settings": settings})


def _probe(loaded: LoadedConfig) -> None:
    from sync_worker.ops.probe import probe_pair, scope_warnings
    from sync_worker.runtime.wiring import build_runtime

    try:
        rt = build_runtime(_impatient(loaded))
    except ConfigError as error:
        raise fail_config(error) from None
    try:
        problems = [f"pair {n}: {p}" for n, ctx in rt.pairs.items() for p in probe_pair(ctx)]
        warnings = [f"pair {n}: {w}" for n, ctx in rt.pairs.items() for w in scope_warnings(ctx)]
    finally:
        rt.close()
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
            worker, console = rt.config.settings.worker, rt.config.settings.console
            if daemon.server is None and worker.metrics_port:
                what = f"metrics on {worker.metrics_host}:{worker.metrics_port}"
                fix = "set worker.metrics_port (0 disables the server)"
            else:
                what = f"the console on {console.host}:{console.port}"
                fix = "set console.port"
            raise fail(f"cannot serve {what}: {exc.strerror}; {fix}", EXIT_USAGE) from None
        daemon.wait()


def _admitted(rt: Runtime, names: list[str]) -> list[str]:
    """``names`` without the pairs their portals cannot serve (each refusal printed)."""
    from sync_worker.ops.preflight import refusal_lines, refused_pairs

    refused = refused_pairs({name: rt.pairs[name] for name in names})
    for line in refusal_lines(refused):
        typer.echo(line, err=True)
    return [name for name in names if name not in refused]


@app.command()
def once(config: ConfigOption = None, pair: PairOption = None) -> None:
    """Run one cycle for every enabled pair (or one); exit 1 if any pair failed or was refused
    at start, 3 if a pair was not synced because another live process holds it (named)."""
    from sync_worker.cli.tables import cycle_notes, cycle_table, discovery_notes, show
    from sync_worker.service.rounds import run_round
    from sync_worker.sync.engine import Outcome

    with runtime(config) as rt:
        wanted = pairs_or_exit(rt, pair)
        names = _admitted(rt, wanted)
        done = run_round(rt, names)
    reports = list(done.cycles)
    for note in discovery_notes(done.discoveries):
        typer.echo(note, err=True)
    if reports:
        show(cycle_table(reports))
    for note in cycle_notes(reports):
        typer.echo(note, err=True)
    failed = any(r.failed for r in reports) or any(d.failed for d in done.discoveries)
    if len(names) < len(wanted) or failed:
        raise typer.Exit(EXIT_SYNC_FAILED)
    if any(r.outcome is Outcome.SKIPPED for r in reports):
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
        (name,) = pairs_or_exit(rt, pair)
        if not _admitted(rt, [name]):
            raise typer.Exit(EXIT_SYNC_FAILED)
        report = run_backfill(rt.pairs[name], since=since, dry_run=dry_run)
    if report.failed:
        raise typer.Exit(EXIT_SYNC_FAILED)


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
def health(
    config: ConfigOption = None,
    url: Annotated[
        str | None, typer.Option(help="The /healthz URL (default: from the config's [worker]).")
    ] = None,
) -> None:
    """Ask the running daemon's /healthz (container health checks): exit 0 healthy, else 1 --
    never 2, which Docker reserves. Reads only the [worker] address, not the whole config."""
    import httpx

    try:
        target = url or _healthz_url(config)
        response = httpx.get(target, timeout=5)
    except (OSError, ValueError, httpx.HTTPError) as exc:
        raise fail(f"unhealthy: {type(exc).__name__}: {exc}", EXIT_SYNC_FAILED) from None
    typer.echo(response.text)
    if response.status_code != 200:
        raise typer.Exit(EXIT_SYNC_FAILED)


def _healthz_url(config: Path | None) -> str:
    """Where the daemon serves /healthz: the environment, else the file's [worker], else the
    defaults; nothing else is read or validated."""
    import os

    path = resolve_config_path(config)
    worker: Any = {}
    if path.is_file():
        with path.open("rb") as handle:
            worker = tomllib.load(handle).get("worker", {})
    host = os.environ.get("SYNC_WORKER_WORKER__METRICS_HOST") or worker.get("metrics_host")
    port = os.environ.get("SYNC_WORKER_WORKER__METRICS_PORT") or worker.get("metrics_port")
    host = str(host or "127.0.0.1")
    if host in ("0.0.0.0", "::"):  # noqa: S104 - a wildcard bind is reached on loopback
        host = "127.0.0.1"
    return f"http://{host}:{int(port or 9464)}/healthz"


# Registered after the sync commands, so `--help` lists those first.
from sync_worker.cli import inspection, starting  # noqa: E402


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interactive only
        sys.exit(130)
