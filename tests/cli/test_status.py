"""``sync-worker status`` tells a run in progress from one that died, and names the holder."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from typer.testing import CliRunner

from sync_worker.cli.app import app
from sync_worker.state import RunRecord, open_store
from tests.cli.conftest import Env

runner = CliRunner(env={"COLUMNS": "200"})  # wide: these tests read table cells
PAIR = "agency-001"
OWNER = "worker-2.example:777:0badf00d"


def status_row(env: Env) -> str:
    result = runner.invoke(app, ["status", "--config", str(env.config)])
    assert result.exit_code == 0, result.output
    return next(line for line in result.stdout.splitlines() if PAIR in line)


def test_an_unfinished_run_is_running_while_held_and_interrupted_after(cli_env: Env) -> None:
    store = open_store(f"sqlite:///{cli_env.state}")
    try:
        now = datetime.now(UTC)
        store.start_run(RunRecord("r-1", PAIR, "daemon", now))
        assert store.try_lease(PAIR, OWNER, now, 600)

        row = status_row(cli_env)
        assert re.search(r"│\s*running\s*│", row), row
        assert OWNER in row

        store.release_lease(PAIR, OWNER)  # as a crash would, once the lease ran out
        row = status_row(cli_env)
        assert re.search(r"│\s*interrupted\s*│", row), row
        assert OWNER not in row
    finally:
        store.close()
