"""Commands for a first hour with the worker, needing nothing but the installed package:
``init`` (a commented config to start from), ``demo`` and ``sandbox`` (local HubSpot-like CRMs)."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from sync_worker.cli.common import EXIT_USAGE, ConfigOption, app, fail
from sync_worker.runtime.config_file import CONFIG_ENV_VAR
from sync_worker.runtime.logging import configure_logging

EXAMPLE_CONFIG = Path(__file__).with_name("config.example.toml")
"""Every key, commented; its endpoints are the local sandbox, so it runs as it is."""
_BUILTIN_MAPPING = 'mapping = "hubspot_shared_deals"'


class Tier(StrEnum):
    """HubSpot API tiers (``rate_limit_tier``); ``unlimited`` is a sandbox without limits."""

    FREE = "free"
    STARTER = "starter"
    PROFESSIONAL = "professional"
    ENTERPRISE = "enterprise"
    API_LIMIT_INCREASE = "api_limit_increase"
    OAUTH = "oauth"
    UNLIMITED = "unlimited"


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the config.", dir_okay=False)] = Path(
        "config.toml"
    ),
    with_mapping: Annotated[
        bool,
        typer.Option(
            "--with-mapping", help="Also copy the default mapping beside it, to edit, and use it."
        ),
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
) -> None:
    """Write a commented config (every key explained) to start from; it points at the local
    sandbox, so `sync-worker sandbox` + `sync-worker once` work at once."""
    from sync_worker.mappings import builtin_mapping_path

    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    mapping = path.with_name("mapping.toml")
    targets = [path, mapping] if with_mapping else [path]
    existing = [str(t) for t in targets if t.exists()]
    if existing and not force:
        raise fail(f"not written: {', '.join(existing)} exists (pass --force to overwrite)", 2)
    if with_mapping:
        mapping.write_text(
            builtin_mapping_path("hubspot_shared_deals").read_text(encoding="utf-8"),
            encoding="utf-8",
        )
        text = text.replace(_BUILTIN_MAPPING, f'mapping = "{mapping.name}"')
    path.write_text(text, encoding="utf-8")
    for written in targets:
        typer.echo(f"wrote {written}")
    typer.echo(
        f"next: sync-worker check --offline --config {path}; for production set each "
        "endpoints.*.base_url to https://api.hubapi.com and the tokens in the environment"
    )


@app.command()
def sandbox(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (portals at http://HOST:PORT/<portal>).")] = 8765,
    seed_demo: Annotated[
        bool, typer.Option("--seed-demo/--empty", help="Seed demo shared deals.")
    ] = True,
    tier: Annotated[Tier, typer.Option(help="Rate-limit tier of both portals.")] = Tier.FREE,
    deals: Annotated[int, typer.Option(min=0, help="How many demo shared deals to seed.")] = 300,
) -> None:
    """Serve two local HubSpot-like portals (partner and rep) for trying the worker."""
    from hubspot_sandbox import serve

    configure_logging(fmt="auto", level="info")
    try:
        serve(host, port, seed_demo=seed_demo, tier=tier.value, deals=deals)
    except OSError as exc:
        raise fail(
            f"cannot serve the sandbox on {host}:{port}: {exc.strerror}; stop what uses it or "
            "pass --port",
            EXIT_USAGE,
        ) from None


@app.command()
def demo(
    config: ConfigOption = None,
    keep_open: Annotated[
        bool,
        typer.Option(
            "--keep-open", help="Then serve the web console (and keep syncing) until Ctrl-C."
        ),
    ] = False,
) -> None:
    """Start the sandbox CRMs, sync, make edits on both sides, sync again, show what and why;
    end with the web console's address.

    Needs no file: without --config (or $SYNC_WORKER_CONFIG) it uses the packaged example."""
    from sync_worker.cli.demo import run_demo

    chosen = config or Path(os.environ.get(CONFIG_ENV_VAR) or EXAMPLE_CONFIG)
    raise typer.Exit(run_demo(chosen, stay=keep_open))
