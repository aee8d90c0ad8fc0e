"""What every command shares: the typer apps, the ``--config`` option, loading and exit codes.

Exit codes: 0 ok, 1 a sync failed (or a CRM/state store could not be reached), 2 usage or
configuration error. Tables go to stdout, logs to stderr (JSON lines unless stderr is a
terminal). Every expected failure is one line on stderr, never a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sync_worker import __version__
from sync_worker.kernel.errors import ConfigError
from sync_worker.runtime.config import LoadedConfig, load_config
from sync_worker.runtime.logging import Redactor, configure_logging

if TYPE_CHECKING:  # imported lazily at run time: `--version` and `--help` stay fast
    from sync_worker.runtime.wiring import Runtime

EXIT_OK = 0
EXIT_SYNC_FAILED = 1
EXIT_USAGE = 2
EXIT_PAIR_BUSY = 3
"""``once``: a pair was not synced because another live process holds it."""

app = typer.Typer(
    name="sync-worker",
    help="Keep shared deals consistent between a partner's CRM and the rep CRM.",
    no_args_is_help=True,
    add_completion=False,
    # Rich tracebacks print frame locals by default, which would leak tokens.
    pretty_exceptions_enable=False,
    # Plain click output: a usage error is one "Error: ..." line, not a box that wraps at the
    # terminal's width.
    rich_markup_mode=None,
)
conflicts_app = typer.Typer(
    help="List and resolve conflicts awaiting a person.", no_args_is_help=True
)
dead_letters_app = typer.Typer(help="List and retry dead-lettered records.", no_args_is_help=True)
app.add_typer(conflicts_app, name="conflicts")
app.add_typer(dead_letters_app, name="dead-letters")

_CONFIG_HELP = "TOML config file (default: $SYNC_WORKER_CONFIG, then ./config.toml)."


def _config_or_root(ctx: typer.Context, value: Path | None) -> Path | None:
    """``--config`` after the subcommand wins; else the one given before it (``sync-worker
    --config x.toml status``)."""
    if value is not None:
        return value
    given = ctx.find_root().params.get("config")
    return given if isinstance(given, Path) else None


ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help=_CONFIG_HELP, dir_okay=False, callback=_config_or_root),
]
RootConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help=_CONFIG_HELP, dir_okay=False)
]
PairOption = Annotated[str | None, typer.Option("--pair", "-p", help="Only this pair.")]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print JSON (schema in the README) instead of tables.")
]


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
    config: RootConfigOption = None,
) -> None:
    """Shared-deal sync worker."""


def fail_config(error: ConfigError) -> typer.Exit:
    """Print one line per problem, no traceback; the caller raises the returned Exit (code 2)."""
    prefix = f"{error.source}: " if error.source else ""
    for problem in error.problems:
        typer.echo(f"config error: {prefix}{problem}", err=True)
    return typer.Exit(EXIT_USAGE)


def fail(message: str, code: int) -> typer.Exit:
    """One line on stderr; the caller raises the returned Exit."""
    typer.echo(message, err=True)
    return typer.Exit(code)


def load_or_exit(config: Path | None, *, require_tokens: bool = True) -> LoadedConfig:
    try:
        loaded = load_config(config, require_tokens=require_tokens)
    except ConfigError as error:
        raise fail_config(error) from None
    worker = loaded.settings.worker
    configure_logging(fmt=worker.log_format, level=worker.log_level, secrets=loaded.secret_values())
    return loaded


@contextmanager
def runtime(config: Path | None, *, only_enabled: bool = True) -> Iterator[Runtime]:
    """Load the config and build the runtime; ConfigError anywhere becomes exit 2."""
    from sqlalchemy.exc import SQLAlchemyError  # imported here: `health` stays quick

    from sync_worker.runtime.wiring import build_runtime

    loaded = load_or_exit(config)
    try:
        built = build_runtime(loaded, only_enabled=only_enabled)
    except ConfigError as error:
        raise fail_config(error) from None
    except SQLAlchemyError as exc:
        redactor = Redactor(loaded.secret_values())
        cause = getattr(exc, "orig", None) or exc  # the driver's own message, without SQL
        detail = redactor.redact_text(str(cause).splitlines()[0])
        raise fail(
            f"cannot open the state store (worker.state_url): {detail}", EXIT_SYNC_FAILED
        ) from None
    try:
        yield built
    finally:
        built.close()


def pairs_or_exit(rt: Runtime, pair: str | None) -> list[str]:
    from sync_worker.runtime.pairs import pair_names

    try:
        return pair_names(pair, rt.pairs)
    except ConfigError as error:
        raise fail_config(error) from None


def print_json(document: dict[str, Any]) -> None:
    """One JSON document on stdout (datetimes as ISO-8601 strings with their UTC offset)."""
    typer.echo(json.dumps(document, indent=2, default=_jsonable))


def _jsonable(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)
