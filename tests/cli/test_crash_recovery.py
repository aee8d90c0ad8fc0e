"""Leases that notice death: a worker killed mid-cycle (SIGKILL, OOM, a container restart) does
not lock its pair; a live worker in a long retry wait keeps it, and ``once`` says who has it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from typer.testing import CliRunner

from hubspot_sandbox import FaultSpec
from sync_worker.cli.app import app
from sync_worker.cli.common import EXIT_PAIR_BUSY
from tests.cli.conftest import Env
from tests.cli.test_daemon import DEADLINE_SECONDS, daemon, wait_for

runner = CliRunner()
PAIR = "agency-001"
WRITES = frozenset({"batch_upsert", "batch_update", "batch_create"})


def writes_refused(env: Env) -> bool:
    rep = env.sandbox.portal("rep")
    return any(rep.counters.get(name, {}).get(429, 0) for name in WRITES)


def status_line(env: Env) -> str:
    """The pair's outcome and holder, as ``status --json`` gives them."""
    result = runner.invoke(app, ["status", "--json", "--config", str(env.config)])
    assert result.exit_code == 0, result.output
    [row] = [r for r in json.loads(result.stdout)["pairs"] if r["pair"] == PAIR]
    return f"{row['outcome']} {row['held_by'] or ''}"


def once(env: Env) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sync_worker", "once", "--config", str(env.config)],
        capture_output=True,
        text=True,
        timeout=DEADLINE_SECONDS * 2,
        check=False,
    )


def with_lease_ttl(env: Env, seconds: float) -> None:
    text = env.config.read_text(encoding="utf-8")
    env.config.write_text(
        text.replace("[worker]\n", f"[worker]\nlease_ttl_seconds = {seconds}\n", 1),
        encoding="utf-8",
    )


def test_a_killed_worker_does_not_lock_its_pair(cli_env: Env) -> None:
    """The daemon is killed while its cycle waits out 429s. ``status`` says ``interrupted`` at
    once, and the next ``once`` takes the pair over within seconds and syncs it (the lease TTL
    is a minute here: only noticing the dead process can free it in time)."""
    with_lease_ttl(cli_env, 60)
    rep = cli_env.sandbox.portal("rep")
    rep.set_faults(FaultSpec(rate_limit_rate=1.0, endpoints=WRITES))
    with daemon(cli_env) as process:
        wait_for(lambda: writes_refused(cli_env), "a write refused with 429")
        assert f":{process.pid}:" in status_line(cli_env)  # running, held by the daemon
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=DEADLINE_SECONDS)
    line = status_line(cli_env)
    assert "interrupted" in line, line
    assert f":{process.pid}:" not in line
    rep.set_faults(FaultSpec())

    started = time.monotonic()
    result = once(cli_env)
    took = time.monotonic() - started

    assert result.returncode == 0, result.stdout + result.stderr
    assert took < DEADLINE_SECONDS, f"took {took:.1f}s"
    assert "lease_taken_over" in result.stderr
    registered = [
        d["hs_object_id"]
        for d in cli_env.sandbox.portal("partner").deals()
        if d["hs_num_associated_active_deal_registrations"] == "1"
    ]
    linked = {(d.get("partner_deal_id") or "").rpartition(":")[2] for d in rep.deals()}
    assert registered
    assert set(registered) <= linked


def test_a_live_worker_keeps_its_pair_through_long_retry_waits(cli_env: Env) -> None:
    """Retry waits far longer than the 3-second lease: the heartbeat keeps it. ``once`` does
    not sync the pair, names the process holding it and exits 3."""
    with_lease_ttl(cli_env, 3)
    rep = cli_env.sandbox.portal("rep")
    rep.set_faults(FaultSpec(rate_limit_rate=1.0, endpoints=WRITES))
    with daemon(cli_env) as process:
        wait_for(lambda: writes_refused(cli_env), "a write refused with 429")
        time.sleep(4)  # longer than the lease: only a heartbeat kept it

        result = once(cli_env)

        assert process.poll() is None
    assert result.returncode == EXIT_PAIR_BUSY, result.stdout + result.stderr
    assert f":{process.pid}:" in result.stdout
    assert "pair_busy" in result.stderr
