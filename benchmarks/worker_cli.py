"""The real worker driven through its command line, for ``benchmarks.many_pairs``: a generated
config for a fleet, ``sync-worker once`` and ``sync-worker run`` as subprocesses, and the
state store's run log read back (the only way the benchmark looks inside the worker).

The config has one rep endpoint, one endpoint per partner portal and one pair per partner
(the default mapping: the rep scope is ``shared_partner_account = {partner_account}``). Tokens
are files (``token_file``), so no ``SYNC_WORKER_*`` variable is needed; the subprocesses get
an environment without any (the worker refuses variables that name no key).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

from sqlalchemy import create_engine, make_url, text

from benchmarks.fleet import REP, REP_TOKEN, Fleet, account, pair_name, partner_name, partner_token

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Setting:
    """How one generated config runs the worker."""

    state_url: str
    rep_tier: str = "free"
    partner_tier: str = "free"
    overlap_seconds: float = 2.0
    interval_seconds: int = 300
    max_parallel_pairs: int = 4
    log_level: str = "warning"
    extra_worker: str = ""
    """More ``[worker]`` lines (keys a newer worker adds)."""


def write_config(directory: Path, fleet: Fleet, setting: Setting, name: str) -> Path:
    """A config for every pair of ``fleet``; returns its path (``directory/name.toml``)."""
    tokens = directory / "tokens"
    tokens.mkdir(exist_ok=True)
    lines = [
        "[worker]",
        f'state_url = "{setting.state_url}"',
        f"interval_seconds = {setting.interval_seconds}",
        "jitter_seconds = 0",
        f"max_parallel_pairs = {setting.max_parallel_pairs}",
        'log_format = "json"',
        f'log_level = "{setting.log_level}"',
        "metrics_port = 0",
        "stop_grace_seconds = 20",
        setting.extra_worker,
        *_endpoint(
            tokens,
            REP,
            fleet.base_url(REP),
            token=REP_TOKEN,
            tier=setting.rep_tier,
            setting=setting,
        ),
    ]
    for i in range(1, fleet.pairs + 1):
        url = fleet.base_url(partner_name(i))
        tier = setting.partner_tier
        lines += _endpoint(
            tokens, partner_name(i), url, token=partner_token(i), tier=tier, setting=setting
        )
        lines += [
            f"[pairs.{pair_name(i)}]",
            f'partner = "{partner_name(i)}"',
            f'rep = "{REP}"',
            f'partner_account = "{account(i)}"',
        ]
    path = directory / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _endpoint(
    tokens: Path, name: str, url: str, *, token: str, tier: str, setting: Setting
) -> list[str]:
    token_file = tokens / name
    if not token_file.exists():
        token_file.write_text(token, encoding="utf-8")
    return [
        f"[endpoints.{name}]",
        f'base_url = "{url}"',
        f'token_file = "{token_file}"',
        f'rate_limit_tier = "{tier}"',
        f"search_overlap_seconds = {setting.overlap_seconds}",
    ]


def worker_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SYNC_WORKER_")}


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "sync_worker", *args]


@dataclass(frozen=True, slots=True)
class OnceRun:
    wall: float
    returncode: int
    log: Path


def run_once(config: Path, log: Path) -> OnceRun:
    """``sync-worker once --config CONFIG``; its table and logs go to ``log``."""
    started = time.monotonic()
    with log.open("w", encoding="utf-8") as out:
        done = subprocess.run(
            command("once", "--config", str(config)),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=worker_env(),
            check=False,
        )
    return OnceRun(time.monotonic() - started, done.returncode, log)


@contextmanager
def daemons(config: Path, logs: list[Path]) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``sync-worker run`` once per log path (replicas sharing the config's state store);
    each is stopped with SIGTERM (by its pid) on exit."""
    handles: list[IO[str]] = [log.open("w", encoding="utf-8") for log in logs]
    started = [
        subprocess.Popen(
            command("run", "--config", str(config)),
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=worker_env(),
        )
        for handle in handles
    ]
    try:
        yield started
    finally:
        for process in started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in started:
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for handle in handles:
            handle.close()


def event_times(log: Path, event: str) -> list[datetime]:
    """When the JSON log at ``log`` recorded ``event``."""
    found = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if f'"{event}"' not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("event") == event and "timestamp" in record:
            found.append(datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00")))
    return found


def tail(log: Path, lines: int = 15) -> str:
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


# --- the state store's run log ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Run:
    pair: str
    started: datetime
    ended: datetime | None
    outcome: str | None


def sqlalchemy_url(state_url: str) -> str:
    """The worker's state URL as SQLAlchemy opens it here (psycopg 3 for PostgreSQL)."""
    for prefix in ("postgresql://", "postgres://"):
        if state_url.startswith(prefix):
            return "postgresql+psycopg://" + state_url.removeprefix(prefix)
    return state_url


def read_runs(state_url: str, since: datetime = EPOCH) -> list[Run]:
    """The ``sw_runs`` rows that started at or after ``since`` (times: epoch microseconds)."""
    engine = create_engine(sqlalchemy_url(state_url))
    floor = (since - EPOCH) // timedelta(microseconds=1)
    query = "SELECT pair, started_at, ended_at, outcome FROM sw_runs WHERE started_at >= :floor"
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(query), {"floor": floor}).all()
    finally:
        engine.dispose()
    return [
        Run(r[0], _micros(r[1]), _micros(r[2]) if r[2] is not None else None, r[3]) for r in rows
    ]


def _micros(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=int(value))


def overlapping(runs: list[Run], now: datetime) -> list[str]:
    """Pairs with two runs whose [started, ended] intervals overlap (an unfinished run lasts
    until ``now``): a pair run by two processes at once."""
    by_pair: dict[str, list[Run]] = {}
    for run in runs:
        by_pair.setdefault(run.pair, []).append(run)
    bad = []
    for pair, pair_runs in sorted(by_pair.items()):
        ordered = sorted(pair_runs, key=lambda r: r.started)
        ends = [r.ended or now for r in ordered]
        if any(ordered[k + 1].started < ends[k] for k in range(len(ordered) - 1)):
            bad.append(pair)
    return bad


@contextmanager
def pg_schema(base_url: str) -> Iterator[str]:
    """A state URL on ``base_url``'s database whose search path is a new schema, dropped after."""
    schema = f"many_pairs_{uuid.uuid4().hex[:12]}"
    engine = create_engine(sqlalchemy_url(base_url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(sqlalchemy_url(base_url)).update_query_dict(
            {"options": f"-csearch_path={schema}"}
        )
        yield url.render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


def counts_by_kind(
    before: Mapping[str, Mapping[str, Mapping[int, int]]],
    after: Mapping[str, Mapping[str, Mapping[int, int]]],
) -> dict[str, dict[str, int]]:
    """Requests per portal between two counter snapshots, by kind: search, read, write,
    metadata (properties, pipelines, owners) and 429 (refused, any endpoint)."""
    kinds = {"search": "search", "properties": "metadata", "pipelines": "metadata"}
    kinds |= {"owners": "metadata", "batch_read": "read", "get": "read", "list": "read"}
    result: dict[str, dict[str, int]] = {}
    for portal, endpoints in after.items():
        tally: dict[str, int] = {}
        for endpoint, statuses in endpoints.items():
            for status, n in statuses.items():
                delta = n - before.get(portal, {}).get(endpoint, {}).get(status, 0)
                kind = "429" if status == 429 else kinds.get(endpoint, "write")
                if delta:
                    tally[kind] = tally.get(kind, 0) + delta
        if tally:
            result[portal] = tally
    return result
