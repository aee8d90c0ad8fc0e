"""Fixtures: a fresh sandbox (two demo portals, served over loopback HTTP) and a fresh SQLite
state file per test, so every test is independent. ``make_world`` takes custom portal specs."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from connectors.hubspot.ratelimit import LimiterRegistry
from sync_worker.clock import Clock
from sync_worker.sandbox import PortalSpec, Sandbox, demo_portals
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


@pytest.fixture
def make_world(tmp_path: Path) -> Iterator[MakeWorld]:
    """``make_world(specs=None, registry=None, clock=None)``: a running world (the sandbox and
    the worker share ``clock``), closed when the test ends."""
    with ExitStack() as stack:
        count = 0

        def make(
            specs: Sequence[PortalSpec] | None = None,
            registry: LimiterRegistry | None = None,
            clock: Clock | None = None,
        ) -> World:
            nonlocal count
            count += 1
            sandbox = Sandbox(list(specs) if specs is not None else portal_specs(), clock=clock)
            path = tmp_path / f"state-{count}.db"
            return stack.enter_context(running_world(sandbox, path, registry))

        yield make


@pytest.fixture
def world(make_world: MakeWorld) -> World:
    """The demo portals with rate limiting off, and an empty state file."""
    return make_world()
