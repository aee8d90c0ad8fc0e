"""CLI exit codes: 0 ok, 1 a sync failed, 2 usage or config error; bad config = clear lines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sync_worker import __version__
from sync_worker.cli.app import app
from tests.conftest import EXAMPLE_CONFIG

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"sync-worker {__version__}"


def test_help_lists_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "check" in result.output


def test_unknown_command_is_a_usage_error() -> None:
    assert runner.invoke(app, ["frobnicate"]).exit_code == 2


def test_check_example_config_ok(demo_env: pytest.MonkeyPatch) -> None:
    result = runner.invoke(app, ["check", "--config", str(EXAMPLE_CONFIG), "--offline"])
    assert result.exit_code == 0, result.output
    assert "config ok" in result.output
    assert "pair agency-001: partner <-> rep, mapping hubspot_shared_deals" in result.output


def test_bad_config_exits_2_with_one_line_per_problem_and_no_traceback(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        "[worker]\nlog_levle = 'x'\ninterval_seconds = 0\n"
        "[endpoints.p]\ntoken = 'pat-na1-secret-in-file'\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["check", "--config", str(bad)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert all(line.startswith(f"config error: {bad}: ") for line in lines), lines
    assert any("worker.log_levle: unknown key" in line for line in lines)
    assert any("worker.interval_seconds" in line for line in lines)
    assert "Traceback" not in result.output
    assert "pat-na1-secret-in-file" not in result.output


def test_bad_mapping_file_exits_2(tmp_path: Path, demo_env: pytest.MonkeyPatch) -> None:
    mapping = tmp_path / "broken.toml"
    mapping.write_text("[fields.amount]\ntype = 'money'\n", encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(
        EXAMPLE_CONFIG.read_text(encoding="utf-8").replace(
            'mapping = "hubspot_shared_deals"', 'mapping = "broken.toml"'
        ),
        encoding="utf-8",
    )
    result = runner.invoke(app, ["check", "--config", str(config), "--offline"])
    assert result.exit_code == 2
    assert "broken.toml" in result.output
    assert "Traceback" not in result.output


def test_python_dash_m_entry_point() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sync_worker", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout.strip() == f"sync-worker {__version__}"
