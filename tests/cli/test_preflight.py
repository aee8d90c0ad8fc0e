"""Validate at start: a pair whose mapping its portal cannot serve is refused before any sync,
with the lines ``check`` prints; the other pairs go on. And ``check`` warns about a scope the
worker cannot keep true on the deals it creates."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from sync_worker.cli.app import app
from sync_worker.cli.common import EXIT_SYNC_FAILED
from tests.cli.conftest import Env

runner = CliRunner()
MISSING = "pair agency-002: partner (partner): property 'amount_typo' does not exist"


def with_broken_second_pair(env: Env) -> None:
    """A second pair on the same portals whose mapping names a property the partner lacks."""
    broken = env.mapping.with_name("broken.toml")
    broken.write_text(
        env.mapping.read_text(encoding="utf-8").replace(
            'partner = "amount"', 'partner = "amount_typo"'
        ),
        encoding="utf-8",
    )
    second = f"""
[pairs.agency-002]
partner = "partner"
rep = "rep"
partner_account = "agency-002"
mapping = "{broken}"
"""
    env.config.write_text(env.config.read_text(encoding="utf-8") + second, encoding="utf-8")


def properties_calls(env: Env, portal: str) -> int:
    return sum(env.sandbox.portal(portal).counters.get("properties", {}).values())


def test_once_refuses_a_pair_its_portal_cannot_serve_and_syncs_the_others(cli_env: Env) -> None:
    with_broken_second_pair(cli_env)

    result = runner.invoke(app, ["once", "--config", str(cli_env.config)])

    assert result.exit_code == EXIT_SYNC_FAILED, result.output
    assert f"pair agency-002 refused (not synced): {MISSING.split(': ', 1)[1]}" in result.stderr
    # One row synced (the table may be shown one field a line on a narrow terminal).
    assert re.search(r"agency-001\s*(│|\n\s*outcome)\s*ok", result.stdout), result.stdout
    assert "agency-002" not in result.stdout  # never synced
    # One definitions call per credential, shared by both pairs and the cycle.
    assert properties_calls(cli_env, "partner") == properties_calls(cli_env, "rep") == 1


def test_check_prints_the_same_problem(cli_env: Env) -> None:
    with_broken_second_pair(cli_env)

    result = runner.invoke(app, ["check", "--config", str(cli_env.config)])

    assert result.exit_code == EXIT_SYNC_FAILED
    assert f"check failed: {MISSING}" in result.stderr


def test_backfill_refuses_the_pair(cli_env: Env) -> None:
    with_broken_second_pair(cli_env)
    args = ["backfill", "--config", str(cli_env.config), "--pair", "agency-002"]

    result = runner.invoke(app, [*args, "--since", "2024-01-01"])

    assert result.exit_code == EXIT_SYNC_FAILED
    assert "pair agency-002 refused (not synced)" in result.stderr
    assert cli_env.sandbox.portal("rep").counters.get("search") is None


def test_check_warns_about_a_calculated_scope_property(cli_env: Env) -> None:
    result = runner.invoke(app, ["check", "--config", str(cli_env.config)])

    assert result.exit_code == 0, result.output
    warning = (
        "check warning: pair agency-001: partner (partner): scope filter "
        "hs_num_associated_active_deal_registrations GT 0 names a read-only or calculated "
        "property"
    )
    assert warning in result.stderr
    assert "pulled by their link property (rep_deal_id)" in result.stderr


def test_the_daemon_refuses_the_pair_and_health_names_it(cli_env: Env, tmp_path: Path) -> None:
    from sync_worker.runtime.config import load_config
    from sync_worker.runtime.wiring import build_runtime
    from sync_worker.service.daemon import Daemon

    with_broken_second_pair(cli_env)
    text = cli_env.config.read_text(encoding="utf-8")
    cli_env.config.write_text(re.sub(r"metrics_port = \d+", "metrics_port = 0", text))
    rt = build_runtime(load_config(cli_env.config))
    daemon = Daemon(rt)
    try:
        daemon.start()
        jobs = {job.id for job in daemon.scheduler.get_jobs()}
        healthy, body = daemon.health.snapshot()
    finally:
        daemon.shutdown()
        rt.close()
    assert "agency-001" in jobs
    assert "agency-002" not in jobs
    assert not healthy
    assert "property 'amount_typo' does not exist" in str(body["failing_pairs"])


def test_a_mapping_that_creates_deals_without_a_stage_is_refused(cli_env: Env) -> None:
    """HubSpot refuses to create a deal without a stage: every referral would fail."""
    text = cli_env.mapping.read_text(encoding="utf-8")
    assert 'default.partner = "referred_new"\n' in text
    cli_env.mapping.write_text(text.replace('default.partner = "referred_new"\n', ""))

    result = runner.invoke(app, ["once", "--config", str(cli_env.config)])

    assert result.exit_code == EXIT_SYNC_FAILED
    assert (
        "pair agency-001 refused (not synced): partner (partner): deals the worker creates here "
        "would have no 'dealstage'"
    ) in result.stderr
