"""One rate budget per credential across processes: two real worker processes on one token pace
together against the sandbox's free tier (100 requests per 10 s, 5 searches per s), through
the product's wiring and a shared SQLite state file.

Each process sends 60 batch reads and 10 searches at once: within its own budget (95 per
10 s), over the portal's limits together. Sharing the state file, no request is refused; with
a state file each (each process pacing on its own), the portal refuses some, so the first test
proves something. A daily limit one process runs into stops the other before any HTTP call.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hubspot_sandbox import TIERS, Portal, Sandbox, SandboxServer, demo_portals
from sync_worker.cli.app import app
from tests.cli.conftest import PARTNER_TOKEN, REP_TOKEN
from tests.conftest import REPO_ROOT

READS, SEARCHES = 60, 10
DAILY_LIMIT = 30
DEADLINE_SECONDS = 120

pytestmark = pytest.mark.slow
runner = CliRunner(env={"COLUMNS": "200"})


@dataclass(frozen=True, slots=True)
class Portals:
    server: SandboxServer
    rep: Portal


def serve(daily_limit: int | None = None) -> Iterator[Portals]:
    partner, rep = demo_portals(tier="free")
    specs = [
        replace(partner, token=PARTNER_TOKEN, tier="unlimited"),
        replace(rep, token=REP_TOKEN, daily_limit=daily_limit),
    ]
    sandbox = Sandbox(specs)
    with SandboxServer(sandbox) as server:
        yield Portals(server, sandbox.portal("rep"))


@pytest.fixture
def portals(clean_env: pytest.MonkeyPatch) -> Iterator[Portals]:
    clean_env.setenv("SYNC_WORKER_ENDPOINTS__PARTNER__TOKEN", PARTNER_TOKEN)
    clean_env.setenv("SYNC_WORKER_ENDPOINTS__REP__TOKEN", REP_TOKEN)
    yield from serve()


@pytest.fixture
def daily_portals(clean_env: pytest.MonkeyPatch) -> Iterator[Portals]:
    clean_env.setenv("SYNC_WORKER_ENDPOINTS__PARTNER__TOKEN", PARTNER_TOKEN)
    clean_env.setenv("SYNC_WORKER_ENDPOINTS__REP__TOKEN", REP_TOKEN)
    yield from serve(daily_limit=DAILY_LIMIT)


def config(path: Path, portals: Portals, state: Path) -> Path:
    """The rep endpoint at free tier, one attempt per request: a 429 is never retried away."""
    path.write_text(
        f"""
[worker]
state_url = "sqlite:///{state}"
log_format = "json"
[endpoints.partner]
base_url = "{portals.server.base_url("partner")}"
rate_limit_tier = "unlimited"
[endpoints.rep]
base_url = "{portals.server.base_url("rep")}"
rate_limit_tier = "free"
max_attempts = 1
[pairs.agency-001]
partner = "partner"
rep = "rep"
partner_account = "agency-001"
""",
        encoding="utf-8",
    )
    return path


def drive(configs: Sequence[Path], reads: int, searches: int) -> list[dict[str, Any]]:
    """Start a driver process per config, let them all go at once, and return their reports."""
    command = [sys.executable, "-m", "tests.cli.budget_driver"]
    processes = [
        subprocess.Popen(
            [*command, str(path), str(reads), str(searches)],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for path in configs
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            if process.stdout.readline().strip() != "ready":
                _out, err = process.communicate(timeout=DEADLINE_SECONDS)
                pytest.fail(f"a driver did not start: {err[-2000:]}")
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        reports = []
        for process in processes:
            out, err = process.communicate(timeout=DEADLINE_SECONDS)
            assert process.returncode == 0, err[-2000:]
            reports.append(json.loads(out.strip().splitlines()[-1]))
        return reports
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def refused(portal: Portal) -> int:
    return sum(counts.get(429, 0) for counts in portal.counters.values())


def general_requests(portal: Portal) -> int:
    return sum(sum(c.values()) for name, c in portal.counters.items() if name != "search")


def test_two_processes_on_one_token_share_its_budget(portals: Portals, tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    configs = [config(tmp_path / f"config-{n}.toml", portals, state) for n in (1, 2)]

    reports = drive(configs, READS, SEARCHES)

    assert refused(portals.rep) == 0, portals.rep.counters
    assert general_requests(portals.rep) == 2 * READS > TIERS["free"][0]
    assert portals.rep.counters["search"] == {200: 2 * SEARCHES}
    for report in reports:
        assert report == {"ok": READS + SEARCHES, "http_calls": READS + SEARCHES}


def test_without_a_shared_budget_the_same_work_is_refused(portals: Portals, tmp_path: Path) -> None:
    """The control: a state file per process, so each paces to its own budget only."""
    configs = [
        config(tmp_path / f"config-{n}.toml", portals, tmp_path / f"state-{n}.db") for n in (1, 2)
    ]

    reports = drive(configs, READS, SEARCHES)

    assert refused(portals.rep) > 0, portals.rep.counters
    assert sum(report.get("rate_limited", 0) for report in reports) == refused(portals.rep)


def test_a_daily_limit_one_process_reached_stops_the_other_without_a_call(
    daily_portals: Portals, tmp_path: Path
) -> None:
    state = tmp_path / "state.db"
    first, second = (config(tmp_path / f"config-{n}.toml", daily_portals, state) for n in (1, 2))

    [spent] = drive([first], DAILY_LIMIT + 5, 0)
    assert spent["ok"] == DAILY_LIMIT
    assert spent["daily_limited"] == 1
    served = daily_portals.rep.total_requests

    [stopped] = drive([second], 5, 5)

    assert stopped == {"daily_limited": 2, "http_calls": 0}
    assert daily_portals.rep.total_requests == served
    [budget] = status(second)["credentials"]  # `status` shows the shared figures too
    assert budget["credential"].startswith(daily_portals.server.base_url("rep"))
    assert budget["shared"] is True
    assert budget["daily_remaining"] == 0
    assert budget["daily_limit_until"] is not None
    text = runner.invoke(app, ["status", "--config", str(second)])
    assert "daily limit reached until" in text.stdout, text.output


def status(path: Path) -> dict[str, Any]:
    result = runner.invoke(app, ["status", "--json", "--config", str(path)])
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document
