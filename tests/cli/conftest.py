"""A sandbox with two seeded portals and a config file pointing the CLI at it."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from hubspot_sandbox import Sandbox, SandboxServer, demo_portals, seed_demo
from sync_worker.mappings import builtin_mapping_path

PARTNER_TOKEN = "pat-na1-partner-0000-1111-secret"
REP_TOKEN = "pat-na1-rep-2222-3333-secret"


@dataclass(frozen=True, slots=True)
class Env:
    sandbox: Sandbox
    server: SandboxServer
    config: Path
    state: Path
    mapping: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_config(
    path: Path, server: SandboxServer, state: Path, mapping: str, *, extra: str = ""
) -> Path:
    path.write_text(
        f"""
[worker]
state_url = "sqlite:///{state}"
log_format = "json"
interval_seconds = 5
jitter_seconds = 0
metrics_port = {free_port()}
{extra}
[endpoints.partner]
base_url = "{server.base_url("partner")}"
rate_limit_tier = "enterprise"
search_overlap_seconds = 5
[endpoints.rep]
base_url = "{server.base_url("rep")}"
rate_limit_tier = "enterprise"
search_overlap_seconds = 5
[pairs.agency-001]
partner = "partner"
rep = "rep"
partner_account = "agency-001"
mapping = "{mapping}"
interval_seconds = 5
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def cli_env(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> Iterator[Env]:
    clean_env.setenv("SYNC_WORKER_ENDPOINTS__PARTNER__TOKEN", PARTNER_TOKEN)
    clean_env.setenv("SYNC_WORKER_ENDPOINTS__REP__TOKEN", REP_TOKEN)
    specs = demo_portals(tier="unlimited")
    tokens = (PARTNER_TOKEN, REP_TOKEN)
    portals = [replace(spec, token=token) for spec, token in zip(specs, tokens, strict=True)]
    sandbox = Sandbox(portals)
    seed_demo(sandbox, deals=40)
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(
        builtin_mapping_path("hubspot_shared_deals").read_text(encoding="utf-8"), encoding="utf-8"
    )
    with SandboxServer(sandbox) as server:
        state = tmp_path / "state.db"
        config = write_config(tmp_path / "config.toml", server, state, str(mapping))
        yield Env(sandbox, server, config, state, mapping)
