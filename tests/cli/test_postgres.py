"""The worker on a PostgreSQL state store, as replicas sharing one database run it."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sync_worker.cli.app import app
from sync_worker.cli.common import EXIT_PAIR_BUSY
from sync_worker.kernel.clock import SystemClock
from sync_worker.state import open_store
from tests.cli.conftest import Env, write_config
from tests.state.conftest import PG_ENV, PG_SKIP, fresh_pg_schema

pytestmark = pytest.mark.pg
runner = CliRunner(env={"COLUMNS": "200"})  # wide: these tests read table cells


@pytest.fixture
def pg_url() -> Iterator[str]:
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(PG_SKIP)
    with fresh_pg_schema(base, prefix="sw_cli") as url:
        yield url


@pytest.fixture
def pg_config(cli_env: Env, pg_url: str, tmp_path: Path) -> Path:
    config = write_config(tmp_path / "pg.toml", cli_env.server, cli_env.state, str(cli_env.mapping))
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace(f'state_url = "sqlite:///{cli_env.state}"', f'state_url = "{pg_url}"'),
        encoding="utf-8",
    )
    return config


def test_cycles_on_postgresql_converge_and_report(
    cli_env: Env, pg_config: Path, pg_url: str
) -> None:
    first = runner.invoke(app, ["once", "--config", str(pg_config)])
    assert first.exit_code == 0, first.output
    assert re.search(r"agency-001\s*│\s*ok", first.output)
    partner = cli_env.sandbox.portal("partner")
    deal = next(d for d in partner.deals() if d.get("rep_deal_id"))
    partner.edit_deal(str(deal["hs_object_id"]), {"amount": "4242"})
    assert runner.invoke(app, ["once", "--config", str(pg_config)]).exit_code == 0
    rep_deal = cli_env.sandbox.portal("rep").get_deal(str(deal["rep_deal_id"]))
    assert rep_deal is not None
    assert rep_deal["amount"] == "4242"
    store = open_store(pg_url)
    try:
        (row,) = store.status(["agency-001"])
        assert row.links > 0
        assert row.last_run is not None
        assert row.last_run.outcome == "ok"
    finally:
        store.close()


def test_a_second_replica_skips_a_pair_another_holds(
    cli_env: Env, pg_config: Path, pg_url: str
) -> None:
    holder = open_store(pg_url)
    try:
        assert holder.try_lease("agency-001", "replica-a", SystemClock().now(), 600)
        result = runner.invoke(app, ["once", "--config", str(pg_config)])
        assert result.exit_code == EXIT_PAIR_BUSY, result.output  # the pair did not sync
        assert re.search(r"agency-001\s*│\s*skipped", result.output)
        assert "replica-a is syncing this pair" in result.output
        # Nothing but the start-up check of the mapping (one cached definitions call).
        assert set(cli_env.sandbox.portal("partner").counters) <= {"properties"}
    finally:
        holder.release_lease("agency-001", "replica-a")
        holder.close()
    result = runner.invoke(app, ["once", "--config", str(pg_config)])
    assert re.search(r"agency-001\s*│\s*ok", result.output)
