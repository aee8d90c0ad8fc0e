"""The command line: parse, build objects, call, map errors to exit codes.

Exit codes: 0 ok, 1 a sync failed, 2 usage or configuration error.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from sync_worker import __version__
from sync_worker.config import LoadedConfig, load_config
from sync_worker.errors import ConfigError

EXIT_OK = 0
EXIT_SYNC_FAILED = 1
EXIT_USAGE = 2

app = typer.Typer(
    name="sync-worker",
    help="Keep shared deals consistent between a partner's CRM and the rep CRM.",
    no_args_is_help=True,
    add_completion=False,
    # Rich tracebacks print frame locals by default, which would leak tokens.
    pretty_exceptions_enable=False,
)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="TOML config file (default: $SYNC_WORKER_CONFIG, then ./config.toml).",
        dir_okay=False,
    ),
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
        return load_config(config)
    except ConfigError as error:
        raise fail_config(error) from None


@app.command()
def check(config: ConfigOption = None) -> None:
    """Validate the config and every mapping file it names."""
    loaded = load_or_exit(config)
    from sync_worker.pairs import load_pair_mappings

    try:
        mappings = load_pair_mappings(loaded)
    except ConfigError as error:
        raise fail_config(error) from None
    settings = loaded.settings
    typer.echo(f"config ok: {loaded.path}")
    for name, pair in settings.pairs.items():
        state = "enabled" if pair.enabled else "disabled"
        typer.echo(
            f"  pair {name}: {pair.partner} <-> {pair.rep}, mapping {mappings[name].name} "
            f"({len(mappings[name].fields)} fields), {state}"
        )


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interactive only
        sys.exit(130)
