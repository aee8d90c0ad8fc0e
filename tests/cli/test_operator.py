"""What a demanding operator meets first: bad input gives one clear line and the documented
exit code (never a traceback); choices are enums; `--config` goes before or after the command;
empty lists say so; `--json` documents; `status` reports real lag and the last failure."""

from __future__ import annotations

import json
import socket
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import get_args

import pytest
from typer.testing import CliRunner

from hubspot_sandbox import TIERS, UNLIMITED
from sync_worker.cli.app import app
from sync_worker.cli.starting import Tier
from sync_worker.runtime.config import RateLimitTier
from sync_worker.state import RunRecord, open_store
from tests.cli.conftest import Env, free_port

runner = CliRunner()
PAIR = "agency-001"


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def assert_one_line(err: str, contains: str) -> None:
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if contains in line]
    assert len(lines) == 1, err


def test_a_config_that_is_not_utf8_is_one_line(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "latin1.toml"
    bad.write_bytes("[worker]\n# café\nlog_level = 'info'\n".encode("latin-1"))
    code, _, err = invoke("check", "--offline", "--config", str(bad))
    assert code == 2
    assert err.strip().splitlines() == [
        f"config error: {bad}: not UTF-8 text (byte 0xe9 at offset 14); save the file as UTF-8"
    ]


def test_sandbox_refuses_an_unknown_tier_in_one_line() -> None:
    code, _, err = invoke("sandbox", "--tier", "gold")
    assert code == 2
    assert_one_line(err, "Invalid value for '--tier'")
    assert "'oauth'" in err


def test_the_sandbox_accepts_every_tier_the_worker_accepts() -> None:
    assert {t.value for t in Tier} == set(get_args(RateLimitTier))
    assert set(get_args(RateLimitTier)) <= {*TIERS, UNLIMITED}


def test_sandbox_on_a_taken_port_is_one_line(clean_env: pytest.MonkeyPatch) -> None:
    port = free_port()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        code, _, err = invoke("sandbox", "--port", str(port), "--empty")
    assert code == 2
    assert_one_line(err, f"cannot serve the sandbox on 127.0.0.1:{port}")


def test_conflicts_take_is_a_choice(cli_env: Env) -> None:
    code, _, err = invoke(
        "conflicts",
        "resolve",
        "1",
        "--pair",
        PAIR,
        "--take",
        "both",
        "--config",
        str(cli_env.config),
    )
    assert code == 2
    assert_one_line(err, "Invalid value for '--take'")


def test_an_unknown_conflict_is_not_a_config_error(cli_env: Env) -> None:
    code, _, err = invoke(
        "conflicts",
        "resolve",
        "999",
        "--pair",
        PAIR,
        "--take",
        "rep",
        "--config",
        str(cli_env.config),
    )
    assert code == 2
    assert "config error" not in err
    assert (
        err.strip() == f"not resolved: no open conflict 999 in pair {PAIR} (see `conflicts list`)"
    )


def test_config_goes_before_or_after_the_command(cli_env: Env) -> None:
    before = invoke("--config", str(cli_env.config), "check", "--offline")
    after = invoke("check", "--offline", "--config", str(cli_env.config))
    assert before == after
    assert before[0] == 0
    nested = invoke("-c", str(cli_env.config), "dead-letters", "list")
    assert nested == (0, "no dead letters\n", "")


def test_empty_lists_say_so(cli_env: Env) -> None:
    config = str(cli_env.config)
    assert invoke("conflicts", "list", "--config", config)[:2] == (0, "no open conflicts\n")
    assert invoke("dead-letters", "list", "--config", config)[:2] == (0, "no dead letters\n")
    empty = json.loads(invoke("conflicts", "list", "--json", "--config", config)[1])
    assert empty == {"schema": 1, "conflicts": []}


def test_check_offline_needs_no_tokens(cli_env: Env, clean_env: pytest.MonkeyPatch) -> None:
    clean_env.delenv("SYNC_WORKER_ENDPOINTS__PARTNER__TOKEN")
    clean_env.delenv("SYNC_WORKER_ENDPOINTS__REP__TOKEN")
    code, out, err = invoke("check", "--offline", "--config", str(cli_env.config))
    assert (code, err) == (0, "")
    assert "config ok" in out
    code, _, err = invoke("check", "--config", str(cli_env.config))
    assert code == 2
    assert "no token" in err


def test_online_check_fails_fast_when_a_crm_is_down(cli_env: Env) -> None:
    down = f"http://127.0.0.1:{free_port()}/rep"  # nothing listens there
    text = cli_env.config.read_text(encoding="utf-8")
    cli_env.config.write_text(text.replace(cli_env.server.base_url("rep"), down), encoding="utf-8")
    started = time.monotonic()
    code, _, err = invoke("check", "--config", str(cli_env.config))
    assert code == 1
    assert time.monotonic() - started < 10
    assert "check failed: pair agency-001: rep (rep): cannot read the CRM" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("variable", "nearest"),
    [
        ("SYNC_WORKER_WORKR__LOG_LEVEL", "SYNC_WORKER_WORKER__LOG_LEVEL"),
        ("SYNC_WORKER_ENDPOINTS__REPP__TOKEN", "SYNC_WORKER_ENDPOINTS__REP__TOKEN"),
    ],
)
def test_a_mistyped_variable_names_the_nearest_valid_one(
    cli_env: Env, clean_env: pytest.MonkeyPatch, variable: str, nearest: str
) -> None:
    clean_env.setenv(variable, "debug")
    code, out, err = invoke("check", "--offline", "--config", str(cli_env.config))
    assert code == 2
    assert "config ok" not in out
    assert f"environment: {variable} sets nothing; did you mean {nearest}?" in err
    assert "debug" not in err  # a value may be a secret: never echoed


def test_tables_fit_a_narrow_terminal(cli_env: Env) -> None:
    """Nothing wider than the terminal, and no cell cut short: a table whose words do not fit
    side by side is shown one record at a time."""
    for columns in (100, 60):
        narrow = CliRunner(env={"COLUMNS": str(columns)})
        for command in ("once", "status"):
            result = narrow.invoke(app, [command, "--config", str(cli_env.config)])
            assert result.exit_code == 0, result.output
            assert max(len(line) for line in result.stdout.splitlines()) <= columns
            assert "…" not in result.stdout
            assert PAIR in result.stdout


def _record_runs(
    env: Env, runs: list[tuple[str, datetime, str, str | None]], pair: str = PAIR
) -> None:
    store = open_store(f"sqlite:///{env.state}")
    try:
        for run_id, started, outcome, error in runs:
            store.start_run(RunRecord(run_id, pair, "daemon", started))
            store.finish_run(run_id, started + timedelta(seconds=2), outcome, {}, error)
    finally:
        store.close()


def test_status_lag_is_time_since_the_last_complete_cycle(cli_env: Env) -> None:
    """A quiet portal's newest change is old, yet the worker is not behind: lag counts from the
    start of the last cycle that saw everything, and the last failure says why."""
    now = datetime.now(UTC)
    _record_runs(
        cli_env,
        [
            ("ok-1", now - timedelta(minutes=10), "ok", None),
            ("bad-1", now - timedelta(minutes=5), "failed", "connector: GET /deals: 503"),
        ],
    )
    code, out, _ = invoke("status", "--json", "--config", str(cli_env.config))
    assert code == 0
    (pair,) = json.loads(out)["pairs"]
    assert pair["pair"] == PAIR
    assert pair["outcome"] == "failed"
    assert 595 <= pair["lag_seconds"] <= 660
    assert pair["last_failure"]["reason"] == "connector: GET /deals: 503"
    assert datetime.fromisoformat(pair["synced_up_to"]) == (now - timedelta(minutes=10))
    assert pair["consecutive_failures"] == 1


def test_status_lag_counts_from_the_last_rep_discovery_that_completed(cli_env: Env) -> None:
    """A pair's own cycles keep succeeding while the rep discovery that feeds it fails: its rep
    changes are not reaching it, and status must say so, not show the pair as current."""
    now = datetime.now(UTC)
    _record_runs(cli_env, [("ok-1", now - timedelta(minutes=1), "ok", None)])
    discoveries = [
        ("d-ok", now - timedelta(minutes=30), "ok", None),
        ("d-bad", now - timedelta(minutes=2), "failed", "endpoint 'rep': HubSpot 401"),
    ]
    _record_runs(cli_env, discoveries, pair="discover:rep")
    (pair,) = json.loads(invoke("status", "--json", "--config", str(cli_env.config))[1])["pairs"]
    assert datetime.fromisoformat(pair["synced_up_to"]) == now - timedelta(minutes=30)
    assert pair["lag_seconds"] >= 30 * 60
    text = invoke("status", "--config", str(cli_env.config))[1]
    assert "rep discovery of rep: last run failed: endpoint 'rep': HubSpot 401" in text


def test_status_lag_right_after_a_sync_is_small(cli_env: Env) -> None:
    assert invoke("once", "--config", str(cli_env.config))[0] == 0
    (pair,) = json.loads(invoke("status", "--json", "--config", str(cli_env.config))[1])["pairs"]
    assert pair["lag_seconds"] < 60
    assert pair["last_failure"] is None
    assert pair["next_pull_from"]["partner"] is not None
    assert pair["linked_out_of_scope"] == 0
    assert pair["inbox"] == {"depth": 0, "oldest_queued_at": None}


def test_json_lists_and_explain(cli_env: Env) -> None:
    config = str(cli_env.config)
    assert invoke("once", "--config", config)[0] == 0
    letters = json.loads(invoke("dead-letters", "list", "--json", "--config", config)[1])
    assert letters["schema"] == 1
    assert isinstance(letters["dead_letters"], list)
    deal = next(d for d in cli_env.sandbox.portal("partner").deals() if d.get("rep_deal_id"))
    code, out, _ = invoke(
        "explain", str(deal["hs_object_id"]), "--pair", PAIR, "--json", "--config", config
    )
    assert code == 0
    document = json.loads(out)
    assert document["link"]["partner_deal"] == str(deal["hs_object_id"])
    assert {f["field"] for f in document["fields"]} >= {"amount", "closedate"}
    assert all(set(f) >= {"rule", "decision", "partner_value"} for f in document["fields"])


def test_init_writes_a_config_that_checks_and_never_overwrites(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "config.toml"
    code, out, _ = invoke("init", str(target), "--with-mapping")
    assert code == 0, out
    mapping = tmp_path / "mapping.toml"
    assert 'mapping = "mapping.toml"' in target.read_text(encoding="utf-8")
    assert mapping.read_text(encoding="utf-8").strip()
    assert target.read_text(encoding="utf-8").count("\n#") > 20  # commented, every key
    code, out, _ = invoke("check", "--offline", "--config", str(target))
    assert code == 0, out
    assert "mapping" in out
    code, _, err = invoke("init", str(target))
    assert code == 2
    assert err.strip() == f"not written: {target} exists (pass --force to overwrite)"


def test_debug_logs_one_line_per_http_call_without_secrets(cli_env: Env) -> None:
    text = cli_env.config.read_text(encoding="utf-8")
    cli_env.config.write_text(text.replace("[worker]\n", '[worker]\nlog_level = "debug"\n', 1))
    result = runner.invoke(app, ["once", "--config", str(cli_env.config)])
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    calls = [e for e in events if e["event"] == "http_call"]
    assert calls
    assert all(
        set(e) >= {"method", "path", "status", "duration_ms", "attempt"} and e["level"] == "debug"
        for e in calls
    )
    assert any(e["path"].endswith("/search") and e["status"] == 200 for e in calls)
    deal_name = str(cli_env.sandbox.portal("partner").deals()[0]["dealname"])
    for secret in ("pat-na1", "Authorization", "Bearer"):
        assert secret not in result.stderr, secret  # no headers or tokens anywhere
    calls_text = json.dumps(calls)
    for body in ("filterGroups", deal_name, "inputs"):
        assert body not in calls_text, body  # no request or response bodies


def test_info_logs_no_http_calls(cli_env: Env) -> None:
    result = runner.invoke(app, ["once", "--config", str(cli_env.config)])
    assert result.exit_code == 0
    assert "http_call" not in result.stderr
