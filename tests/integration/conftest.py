"""Fixtures: a fresh sandbox (two demo portals, served over loopback HTTP) and a fresh SQLite
state file per test, so every test is independent. ``make_world`` takes custom portal specs."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from hubspot_sandbox import PortalSpec, Sandbox, SandboxServer, demo_portals
from sync_worker.connectors.hubspot.ratelimit import LimiterRegistry
from tests.integration.world import World, running_world

MakeWorld = Callable[..., World]


def portal_specs(
    *,
    partner: dict[str, Any] | None = None,
    rep: dict[str, Any] | None = None,
    tier: str = "unlimited",
) -> list[PortalSpec]:
    """The demo portals at ``tier`` with per-portal field changes (``dataclasses.replace``)."""
    base_partner, base_rep = demo_portals(tier=tier)
    return [replace(base_partner, **(partner or {})), replace(base_rep, **(rep or {}))]


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    """One uvicorn server for the session (stopping one costs ~0.2 s); each world swaps in its
    own fresh sandbox."""
    with SandboxServer(Sandbox(portal_specs())) as server:
        yield server


@pytest.fixture
def make_world(sandbox_server: SandboxServer, tmp_path: Path) -> Iterator[MakeWorld]:
    """``make_world(specs=None, registry=None)``: a fresh sandbox served over HTTP and an empty
    state file, closed when the test ends. One world per test (they share the server)."""
    with ExitStack() as stack:
        made: list[World] = []

        def make(
            specs: Sequence[PortalSpec] | None = None, registry: LimiterRegistry | None = None
        ) -> World:
            assert not made, "one world per test: worlds share the session's server"
            sandbox = Sandbox(list(specs) if specs is not None else portal_specs())
            world = stack.enter_context(
                running_world(sandbox_server, sandbox, tmp_path / "state.db", registry)
            )
            made.append(world)
            return world

        yield make


@pytest.fixture
def world(make_world: MakeWorld) -> World:
    """The demo portals with rate limiting off, and an empty state file."""
    return make_world()
