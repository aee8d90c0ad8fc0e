"""Fixtures: a console world (sandbox, config, runtime) and the console app over it, served on
loopback and driven by an httpx client (HTTP-level tests; the browser tests start a real daemon
instead)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sync_worker.service.console import ConsoleDeps, build_console
from sync_worker.service.console.auth import LoginThrottle
from sync_worker.service.http import ThreadedServer
from sync_worker.service.metrics import Health
from tests.console.world import PAIR, ConsoleWorld, console_world, token_environment


@pytest.fixture
def world(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> Iterator[ConsoleWorld]:
    for name, value in token_environment().items():
        clean_env.setenv(name, value)
    with console_world(tmp_path) as made:
        made.cycle(PAIR)  # links the seeded deals
        yield made


class Requests:
    """What the console asked of the daemon (``run_soon``)."""

    def __init__(self) -> None:
        self.soon: list[str] = []

    def run_soon(self, pair: str) -> bool:
        self.soon.append(pair)
        return True


@pytest.fixture
def requests_made() -> Requests:
    return Requests()


@pytest.fixture
def health() -> Health:
    return Health(threshold=3)


@pytest.fixture
def throttle() -> LoginThrottle:
    return LoginThrottle()


@pytest.fixture
def client(
    world: ConsoleWorld, health: Health, requests_made: Requests, throttle: LoginThrottle
) -> Iterator[httpx.Client]:
    deps = ConsoleDeps(world.runtime, health, requests_made.run_soon)
    settings = world.loaded.settings.console
    app = build_console(
        deps, settings, world.loaded.console_users, throttle=throttle, login_delay=0
    )
    with ThreadedServer(app, name="console") as server, httpx.Client(base_url=server.url) as made:
        yield made
