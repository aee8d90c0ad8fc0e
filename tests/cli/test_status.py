"""``sync-worker status`` tells a run in progress from one that died, and names the holder."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from sync_worker.cli.app import app
from sync_worker.state import LinkState, PageCommit, RunRecord, open_store
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


def test_status_says_how_many_linked_deals_are_out_of_scope(cli_env: Env) -> None:
    store = open_store(f"sqlite:///{cli_env.state}")
    why = "partner deal 1 fails the partner scope filter hs_num_x GT 0"
    try:
        store.commit_page(PAIR, PageCommit(links=[LinkState("1", "2", out_of_scope=why)]))
    finally:
        store.close()

    result = runner.invoke(app, ["status", "--config", str(cli_env.config)])

    assert result.exit_code == 0, result.output
    assert f"{PAIR}: 1 linked deals out of scope" in result.stdout


def test_once_and_status_name_the_endpoint_whose_token_was_refused(
    cli_env: Env, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("SYNC_WORKER_ENDPOINTS__REP__TOKEN", "pat-na1-refused-0000")

    result = runner.invoke(app, ["once", "--config", str(cli_env.config)])

    assert result.exit_code == 1
    assert f"pair {PAIR} failed: endpoint 'rep': " in result.stderr
    assert "401" in result.stderr
    status = runner.invoke(app, ["status", "--config", str(cli_env.config)])
    assert f"{PAIR}: last run failed: endpoint 'rep': " in status.stdout
    assert "pat-na1-refused-0000" not in result.output + status.output
