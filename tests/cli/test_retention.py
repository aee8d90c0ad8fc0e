"""History retention as operators meet it: ``sync-worker prune`` and the daemon's daily job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from structlog.testing import capture_logs
from typer.testing import CliRunner

from sync_worker.cli.app import app
from sync_worker.kernel.model import Side
from sync_worker.runtime.config import load_config
from sync_worker.runtime.wiring import runtime_for
from sync_worker.service.daemon import Daemon
from sync_worker.service.jobs import PRUNE_DELAY, PRUNE_JOB
from sync_worker.state import ChangeEntry, PageCommit, RunRecord, open_store
from tests.cli.conftest import Env

runner = CliRunner()
NOW = datetime.now(UTC)


def entry(days_ago: int) -> ChangeEntry:
    return ChangeEntry(
        partner_id="p1",
        rep_id="r1",
        side_written=Side.REP,
        field=f"amount-{days_ago}",
        old_value="1",
        new_value="2",
        rule="newest_wins",
        reason="partner changed",
        at=NOW - timedelta(days=days_ago),
        run_id="r",
    )


def seed_history(env: Env) -> None:
    store = open_store(f"sqlite:///{env.state}")
    try:
        store.commit_page("agency-001", PageCommit(changes=[entry(d) for d in (400, 100, 5)]))
        for days_ago in (400, 100, 5):
            run_id = f"run-{days_ago}"
            started = NOW - timedelta(days=days_ago)
            store.start_run(RunRecord(run_id, "agency-001", "daemon", started))
            store.finish_run(run_id, started + timedelta(seconds=3), "ok", {}, None)
    finally:
        store.close()


def remaining_changes(env: Env) -> list[str]:
    store = open_store(f"sqlite:///{env.state}")
    try:
        return sorted(c.field for c in store.changes_for("agency-001", "p1"))
    finally:
        store.close()


def set_history_days(env: Env, days: int) -> None:
    text = env.config.read_text(encoding="utf-8")
    env.config.write_text(text.replace("[worker]\n", f"[worker]\nhistory_days = {days}\n", 1))


def test_prune_keeps_the_configured_days_and_says_what_it_deleted(cli_env: Env) -> None:
    seed_history(cli_env)
    result = runner.invoke(app, ["prune", "--config", str(cli_env.config)])
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "deleted history older than 90 days: 2 changes, 2 runs, "
        "0 resolved conflicts, 0 resolved dead letters\n"
    )
    assert remaining_changes(cli_env) == ["amount-5"]
    assert sum(p.total_requests for p in map(cli_env.sandbox.portal, ("partner", "rep"))) == 0


def test_prune_days_overrides_the_config(cli_env: Env) -> None:
    seed_history(cli_env)
    result = runner.invoke(app, ["prune", "--config", str(cli_env.config), "--days", "200"])
    assert result.exit_code == 0, result.output
    assert remaining_changes(cli_env) == ["amount-100", "amount-5"]
    bad = runner.invoke(app, ["prune", "--config", str(cli_env.config), "--days", "0"])
    assert bad.exit_code == 2
    assert remaining_changes(cli_env) == ["amount-100", "amount-5"]


def test_history_days_0_keeps_everything(cli_env: Env) -> None:
    set_history_days(cli_env, 0)
    seed_history(cli_env)
    result = runner.invoke(app, ["prune", "--config", str(cli_env.config)])
    assert result.exit_code == 0
    assert "kept forever" in result.output
    assert len(remaining_changes(cli_env)) == 3


def test_a_negative_history_days_is_a_config_error(cli_env: Env) -> None:
    set_history_days(cli_env, -1)
    result = runner.invoke(app, ["prune", "--config", str(cli_env.config)])
    assert result.exit_code == 2
    assert "worker.history_days" in result.output


def test_the_daemon_prunes_daily_after_its_first_cycles(cli_env: Env) -> None:
    seed_history(cli_env)
    loaded = load_config(cli_env.config)
    with runtime_for(loaded) as runtime:
        daemon = Daemon(runtime)
        daemon.worker = daemon.worker.model_copy(update={"metrics_port": 0})
        daemon.start()
        try:
            job = daemon.scheduler.get_job(PRUNE_JOB)
            assert job is not None
            first = job.next_run_time - runtime.clock.now()
            assert PRUNE_DELAY - timedelta(seconds=5) < first <= PRUNE_DELAY
            with capture_logs() as logs:
                job.func()  # what the scheduler will call
        finally:
            daemon.shutdown()
    assert remaining_changes(cli_env) == ["amount-5"]
    assert any(e["event"] == "history_pruned" and e["changes"] == 2 for e in logs)


def test_the_daemon_has_no_prune_job_when_history_is_kept(cli_env: Env) -> None:
    set_history_days(cli_env, 0)
    with runtime_for(load_config(cli_env.config)) as runtime:
        daemon = Daemon(runtime)
        daemon.worker = daemon.worker.model_copy(update={"metrics_port": 0})
        daemon.start()
        try:
            assert daemon.scheduler.get_job(PRUNE_JOB) is None
        finally:
            daemon.shutdown()


def test_a_failing_prune_is_logged_and_the_daemon_goes_on(
    cli_env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    with runtime_for(load_config(cli_env.config)) as runtime:
        daemon = Daemon(runtime)

        def down(before: datetime) -> None:
            raise OSError(f"state store unreachable, pruning before {before:%Y-%m-%d}")

        monkeypatch.setattr(runtime.store, "prune_history", down)
        with capture_logs() as logs:
            daemon._prune()
    assert [e["event"] for e in logs] == ["history_prune_failed"]
    assert logs[0]["log_level"] == "error"


def test_a_pair_named_like_the_prune_job_still_starts(cli_env: Env) -> None:
    text = cli_env.config.read_text(encoding="utf-8")
    cli_env.config.write_text(text.replace("[pairs.agency-001]", "[pairs.prune-history]"))
    with runtime_for(load_config(cli_env.config)) as runtime:
        daemon = Daemon(runtime)
        daemon.worker = daemon.worker.model_copy(update={"metrics_port": 0})
        daemon.start()
        try:
            assert daemon.scheduler.get_job("prune-history") is not None
            assert daemon.scheduler.get_job(PRUNE_JOB) is not None
        finally:
            daemon.shutdown()
