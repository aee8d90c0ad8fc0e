"""The daemon as operators run it: a real process, /healthz and /metrics, a graceful SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO

import httpx
import pytest

from hubspot_sandbox import FaultSpec
from tests.cli.conftest import PARTNER_TOKEN, REP_TOKEN, Env

DEADLINE_SECONDS = 30.0


def metrics_url(env: Env) -> str:
    port = tomllib.loads(env.config.read_text(encoding="utf-8"))["worker"]["metrics_port"]
    return f"http://127.0.0.1:{port}"


_LOGS: dict[int, IO[str]] = {}
"""Each running daemon's stderr, in a file: a pipe read only at the end would fill up (64 KiB)
with a first cycle's events and block the daemon mid-cycle."""


@contextmanager
def daemon(env: Env, **extra_env: str) -> Iterator[subprocess.Popen[str]]:
    environ = {**os.environ, **extra_env}
    log = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "sync_worker", "run", "--config", str(env.config)],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=log,
        text=True,
    )
    _LOGS[process.pid] = log
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=DEADLINE_SECONDS)
        _LOGS.pop(process.pid).close()


def wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def cycles_ok(url: str) -> bool:
    text = httpx.get(f"{url}/metrics", timeout=2).text
    return 'sync_cycles_total{outcome="ok",pair="agency-001"}' in text


def stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=DEADLINE_SECONDS)
    log = _LOGS[process.pid]
    log.seek(0)
    return process.returncode, log.read()


def test_daemon_syncs_serves_health_and_metrics_and_stops_on_sigterm(cli_env: Env) -> None:
    url = metrics_url(cli_env)
    with daemon(cli_env) as process:
        wait_for(lambda: cycles_ok(url), "a successful cycle")
        health = httpx.get(f"{url}/healthz", timeout=2)
        assert health.status_code == 200
        assert health.json() == {"healthy": True, "scheduler_alive": True, "failing_pairs": {}}
        metrics = httpx.get(f"{url}/metrics", timeout=2).text
        assert 'sync_counterparts_created_total{pair="agency-001",side="rep"}' in metrics
        assert "sync_cycle_duration_seconds_bucket" in metrics
        assert 'sync_open_conflicts{pair="agency-001"} 0.0' in metrics  # set after the cycle
        assert 'sync_dead_letter_backlog{pair="agency-001"}' in metrics
        assert "process_cpu_seconds_total" in metrics
        code, err = stop(process)
    assert code == 0, err
    events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    names = [e["event"] for e in events]
    assert "daemon_started" in names
    assert "shutdown_requested" in names
    assert names[-1] == "daemon_stopped"
    assert any(e["event"] == "cycle_finished" and e["outcome"] == "ok" for e in events)
    assert PARTNER_TOKEN not in err
    assert REP_TOKEN not in err


def failing_pairs(url: str) -> dict[str, dict[str, object]]:
    body: dict[str, dict[str, dict[str, object]]] = httpx.get(f"{url}/healthz", timeout=2).json()
    return body["failing_pairs"]


def test_auth_failure_pauses_the_pair_and_turns_health_red(cli_env: Env) -> None:
    url = metrics_url(cli_env)
    wrong = "pat-na1-revoked-4444-5555"
    with daemon(cli_env, SYNC_WORKER_ENDPOINTS__REP__TOKEN=wrong) as process:
        # Rep discovery fails on the same token, maybe first: wait for the pair itself.
        wait_for(lambda: "agency-001" in failing_pairs(url), "the pair failing in /healthz")
        body = httpx.get(f"{url}/healthz", timeout=2).json()
        assert body["healthy"] is False
        assert body["failing_pairs"]["agency-001"]["paused"] is True
        assert "auth" in body["failing_pairs"]["agency-001"]["reason"]
        wait_for(lambda: "discover:rep" in failing_pairs(url), "rep discovery paused too")
        assert failing_pairs(url)["discover:rep"]["paused"] is True
        code, err = stop(process)
    assert code == 0
    assert "pair_paused" in err
    assert "discovery_paused" in err
    assert wrong not in err


def test_health_command_reports_the_daemon(cli_env: Env) -> None:
    url = metrics_url(cli_env)
    command = [sys.executable, "-m", "sync_worker", "health", "--config", str(cli_env.config)]
    down = subprocess.run(command, capture_output=True, text=True, check=False)
    assert down.returncode == 1
    assert "unhealthy" in down.stderr
    with daemon(cli_env) as process:
        wait_for(lambda: cycles_ok(url), "a successful cycle")
        up = subprocess.run(command, capture_output=True, text=True, check=False)
        assert up.returncode == 0, up.stderr
        assert json.loads(up.stdout)["healthy"] is True
        stop(process)


def test_a_busy_metrics_port_is_a_clear_usage_error(cli_env: Env) -> None:
    import socket

    port = int(metrics_url(cli_env).rsplit(":", 1)[1])
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        result = subprocess.run(
            [sys.executable, "-m", "sync_worker", "run", "--config", str(cli_env.config)],
            capture_output=True,
            text=True,
            check=False,
            timeout=DEADLINE_SECONDS,
        )
    assert result.returncode == 2
    assert f"cannot serve metrics on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
    assert cli_env.sandbox.portal("partner").total_requests == 0


def test_sigterm_during_a_long_retry_wait_exits_within_the_grace(cli_env: Env) -> None:
    """Every write answered 429 with a 10-second window: the cycle sits in a retry backoff.
    SIGTERM must not wait out six such backoffs (Docker kills after its own timeout): the wait
    is cut short near the end of stop_grace_seconds and the process exits 0."""
    grace = 4.0
    text = cli_env.config.read_text(encoding="utf-8")
    cli_env.config.write_text(
        text.replace("[worker]\n", f"[worker]\nstop_grace_seconds = {grace}\n", 1),
        encoding="utf-8",
    )
    rep = cli_env.sandbox.portal("rep")
    rep.set_faults(
        FaultSpec(rate_limit_rate=1.0, endpoints=frozenset({"batch_create", "batch_update"}))
    )

    def refused() -> bool:
        return any(by_status.get(429, 0) for by_status in rep.counters.values())

    with daemon(cli_env) as process:
        wait_for(refused, "a write refused with 429")
        sent = time.monotonic()
        code, err = stop(process)
        took = time.monotonic() - sent
    assert code == 0, err
    # Cut short at grace - 2 s; a generous bound, as the logs below prove the mechanism. Without
    # it the process overran the grace (10 s and more) and logged shutdown_grace_exceeded.
    assert took < DEADLINE_SECONDS / 2, f"took {took:.1f}s"
    events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    names = [e["event"] for e in events]
    assert "shutdown_interrupting_waits" in names
    assert "cycle_interrupted" in names
    assert "shutdown_grace_exceeded" not in names
    assert any(e["event"] == "cycle_finished" and e["outcome"] == "stopped" for e in events)
    assert names[-1] == "daemon_stopped"
