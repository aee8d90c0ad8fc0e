"""How fast a UI edit reaches the other CRM: the real daemon with webhooks, then polling only.

Run: ``.venv/bin/python -m benchmarks.propagation [--edits 1000] [--seconds 60] [--poll 60]``

Each mode gets a fresh sandbox subprocess (free tier: 100 calls per 10 s, search 5 per s, per
portal) holding linked pairs, and the real daemon in this process (default mapping, HubSpot
connectors, SQLite state), which first syncs every pair. Then ``--edits`` UI edits land evenly
over ``--seconds``, each on its own linked pair, on the partner or the rep side at random: a new
``amount``. Per edit, the **time to counterpart** runs from the UI edit to the worker's write
of that value on the other side, both as the sandbox's property history stamps them (one clock,
millisecond precision). An edit the counterpart does not hold once the run settles is **lost**.
**Calls per edit**: every API request both portals served from the first edit until the last
one crossed (webhook deliveries are no API calls), divided by the edits.

Modes: ``webhooks`` (the sandbox delivers signed webhooks to the daemon; the pair still polls
every 300 s as a safety net) and ``polling`` (no webhooks; the pair polls every ``--poll`` s, the
example config's 60 s by default).

The **floor** of calls per edit with webhooks: per debounce window (the daemon's wake delay,
1 s) and side edited in it, one batch read of the edited deals plus one batch write of their
counterparts (the issue's floor: "a batch read plus a batch write shared by the edits of one
debounce window"), divided by the edits.

Targets (issue 14): p95 <= 5 s with webhooks, 0 lost edits, calls per edit near the floor.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import socket
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from benchmarks.common import PORTALS, TOKENS, SandboxInfo, print_table, seeded_sandbox
from sync_worker.kernel.clock import parse_datetime
from sync_worker.runtime.config import load_config
from sync_worker.runtime.logging import configure_logging
from sync_worker.runtime.wiring import Runtime, runtime_for
from sync_worker.service.daemon import WAKE_DELAY_SECONDS, Daemon

TIER = "free"
SAFETY_NET_SECONDS = 300
SECRETS = {"partner": "bench-partner-app-secret", "rep": "bench-rep-app-secret"}
HISTORY_BATCH = 50
PAIR = "agency-001"
P95_TARGET_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Edit:
    """One UI edit: the deal edited, on which side, its counterpart and the value set."""

    side: str
    deal_id: str
    counterpart: str
    value: str

    @property
    def other(self) -> str:
        return "rep" if self.side == "partner" else "partner"


@dataclass(frozen=True, slots=True)
class Result:
    mode: str
    latencies: list[float]
    lost: int
    routes: Counter[str]
    edits: int
    windows: int

    @property
    def calls(self) -> int:
        return self.routes.total()

    @property
    def p95(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[math.ceil(0.95 * len(ordered)) - 1] if ordered else math.inf

    @property
    def floor(self) -> float:
        """A batch read and a batch write per debounce window and side edited, per edit."""
        return 2 * self.windows / self.edits

    def rows(self) -> list[tuple[str, str]]:
        ordered = sorted(self.latencies) or [math.nan]
        return [
            ("edits crossed", f"{len(self.latencies)} of {self.edits} ({self.lost} lost)"),
            ("time to counterpart p50", f"{statistics.median(ordered):.2f} s"),
            ("time to counterpart p95", f"{self.p95:.2f} s"),
            ("time to counterpart max", f"{ordered[-1]:.2f} s"),
            ("API calls (both portals)", f"{self.calls}"),
            ("  by route", ", ".join(f"{k} {v}" for k, v in sorted(self.routes.items()))),
            ("API calls per edit", f"{self.calls / self.edits:.3f}"),
        ] + (
            [("floor per edit", f"{self.floor:.3f} ({self.windows} windows x sides)")]
            if self.mode == "webhooks"
            else []
        )


def write_config(directory: Path, sandbox: SandboxInfo, interval: int) -> Path:
    path = directory / "config.toml"
    endpoints = "".join(
        f'[endpoints.{name}]\nbase_url = "{sandbox.base_url(name)}"\nrate_limit_tier = "{TIER}"\n'
        for name in PORTALS
    )
    path.write_text(
        f'[worker]\nstate_url = "sqlite:///{directory / "state.db"}"\n'
        f"interval_seconds = {interval}\njitter_seconds = 0\nmetrics_port = {free_port()}\n"
        f'log_format = "json"\nlog_level = "warning"\n{endpoints}'
        f'[pairs.{PAIR}]\npartner = "partner"\nrep = "rep"\npartner_account = "{PAIR}"\n',
        encoding="utf-8",
    )
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def daemon_for(sandbox: SandboxInfo, interval: int, *, webhooks: bool) -> Iterator[Daemon]:
    """The real daemon on ``sandbox``; webhook secrets set when ``webhooks``."""
    for name in PORTALS:
        os.environ[f"SYNC_WORKER_ENDPOINTS__{name.upper()}__TOKEN"] = TOKENS[name]
        variable = f"SYNC_WORKER_ENDPOINTS__{name.upper()}__WEBHOOK_SECRET"
        if webhooks:
            os.environ[variable] = SECRETS[name]
        else:
            os.environ.pop(variable, None)
    with tempfile.TemporaryDirectory(prefix="bench-propagation-") as directory:
        loaded = load_config(write_config(Path(directory), sandbox, interval))
        configure_logging(fmt="json", level="warning", secrets=loaded.settings.secret_values())
        with runtime_for(loaded) as runtime:
            daemon = Daemon(runtime)
            daemon.start()
            try:
                yield daemon
            finally:
                daemon.shutdown()


def wait_synced(runtime: Runtime, pairs: int, daemon: Daemon) -> None:
    """Until the first cycle linked every seeded pair and nothing runs."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if runtime.store.status([PAIR])[0].links >= pairs and not daemon.running:
            return
        time.sleep(0.2)
    raise RuntimeError("the first sync did not finish in 10 minutes")


def linked_pairs(admin: httpx.Client, sandbox: SandboxInfo) -> list[tuple[str, str]]:
    """(partner id, rep id) of every linked pair, from the partner deals' link property."""
    deals = admin.get(f"{sandbox.base_url('partner')}/__sandbox/deals", timeout=120).json()
    pairs = []
    for deal in deals["results"]:
        link = deal.get("rep_deal_id") or ""
        pairs.append((str(deal["hs_object_id"]), link.rsplit(":", 1)[-1]))
    return [p for p in pairs if p[1]]


def plan_edits(pairs: Sequence[tuple[str, str]], count: int, seed: int = 7) -> list[Edit]:
    rng = random.Random(seed)
    chosen = rng.sample(list(pairs), count)
    edits = []
    for i, (partner_id, rep_id) in enumerate(chosen):
        value = str(700_000 + i * 10)
        if rng.random() < 0.5:
            edits.append(Edit("partner", partner_id, rep_id, value))
        else:
            edits.append(Edit("rep", rep_id, partner_id, value))
    return edits


def make_edits(
    admin: httpx.Client, sandbox: SandboxInfo, edits: Sequence[Edit], span: float
) -> int:
    """The edits, evenly over ``span`` seconds, as a user makes them; returns the number of
    debounce windows (of the daemon's wake delay) and sides that saw an edit."""
    started = time.monotonic()
    windows: set[tuple[int, str]] = set()
    for i, edit in enumerate(edits):
        due = started + span * i / len(edits)
        time.sleep(max(0.0, due - time.monotonic()))
        url = f"{sandbox.base_url(edit.side)}/__sandbox/deals/{edit.deal_id}"
        admin.post(url, json={"properties": {"amount": edit.value}}).raise_for_status()
        windows.add((int((time.monotonic() - started) / WAKE_DELAY_SECONDS), edit.side))
    return len(windows)


def wait_crossed(
    admin: httpx.Client, sandbox: SandboxInfo, edits: Sequence[Edit], deadline: float
) -> set[Edit]:
    """Until every counterpart holds its edit's value (or ``deadline``); the ones that do."""
    crossed: set[Edit] = set()
    while time.monotonic() < deadline and len(crossed) < len(edits):
        for side in PORTALS:
            pending = {e.counterpart: e for e in edits if e.other == side and e not in crossed}
            ids = list(pending)
            for start in range(0, len(ids), 200):
                url = f"{sandbox.base_url(side)}/__sandbox/deals"
                found = admin.get(url, params={"ids": ",".join(ids[start : start + 200])})
                for deal in found.json()["results"]:
                    edit = pending[str(deal["hs_object_id"])]
                    if deal.get("amount") == edit.value:
                        crossed.add(edit)
        time.sleep(0.25)
    return crossed


def history_times(
    sandbox: SandboxInfo, side: str, ids: Sequence[str]
) -> dict[str, list[dict[str, str]]]:
    """Each deal's ``amount`` history on ``side`` (read after the measurement)."""
    headers = {"Authorization": f"Bearer {TOKENS[side]}"}
    url = f"{sandbox.base_url(side)}/crm/v3/objects/deals/batch/read"
    found: dict[str, list[dict[str, str]]] = {}
    with httpx.Client(headers=headers, timeout=60) as client:
        for start in range(0, len(ids), HISTORY_BATCH):
            body = {
                "inputs": [{"id": i} for i in ids[start : start + HISTORY_BATCH]],
                "properties": ["amount"],
                "propertiesWithHistory": ["amount"],
            }
            for _ in range(20):  # free tier: wait out a 429
                answer = client.post(url, json=body)
                if answer.status_code != 429:
                    break
                time.sleep(1.0)
            answer.raise_for_status()
            for deal in answer.json()["results"]:
                found[str(deal["id"])] = deal["propertiesWithHistory"]["amount"]
    return found


def latencies(sandbox: SandboxInfo, crossed: set[Edit]) -> list[float]:
    """Seconds from each UI edit to the worker's write of its value, from the histories."""
    by_side = {s: [e for e in crossed if e.side == s] for s in PORTALS}
    history = {
        s: {
            **history_times(sandbox, s, [e.deal_id for e in by_side[s]]),
            **history_times(sandbox, s, [e.counterpart for e in crossed if e.other == s]),
        }
        for s in PORTALS
    }
    result = []
    for edit in crossed:
        made = _stamp(history[edit.side][edit.deal_id], edit.value, "CRM_UI")
        written = _stamp(history[edit.other][edit.counterpart], edit.value, "API")
        if made is not None and written is not None:
            result.append(written - made)
    return result


def _stamp(entries: Sequence[dict[str, str]], value: str, source: str) -> float | None:
    for entry in entries:
        moment = parse_datetime(entry["timestamp"])
        if entry["value"] == value and entry["sourceType"] == source and moment is not None:
            return moment.timestamp()
    return None


def calls_by_route(sandbox: SandboxInfo) -> Counter[str]:
    """Requests served so far, per portal and endpoint (``rep batch_read``)."""
    return Counter(
        {
            f"{portal} {route}": sum(by.values())
            for portal in PORTALS
            for route, by in sandbox.counters(portal).items()
        }
    )


def subscribe(admin: httpx.Client, sandbox: SandboxInfo, daemon: Daemon) -> None:
    """Point each portal's webhook app at the daemon's route (the sandbox's admin API)."""
    assert daemon.server is not None
    for name in PORTALS:
        target = {
            "target_url": f"{daemon.server.url}/webhooks/hubspot/{name}",
            "client_secret": SECRETS[name],
        }
        url = f"{sandbox.base_url(name)}/__sandbox/webhooks"
        admin.post(url, json=target).raise_for_status()


def run_mode(mode: str, args: argparse.Namespace) -> Result:
    webhooks = mode == "webhooks"
    interval = SAFETY_NET_SECONDS if webhooks else args.poll
    pairs = args.edits + 200
    with seeded_sandbox(pairs, tier=TIER, differ=0.0) as sandbox:
        with (
            daemon_for(sandbox, interval, webhooks=webhooks) as daemon,
            httpx.Client(timeout=60) as admin,
        ):
            wait_synced(daemon.runtime, pairs, daemon)
            if webhooks:
                subscribe(admin, sandbox, daemon)
            edits = plan_edits(linked_pairs(admin, sandbox), args.edits)
            before = calls_by_route(sandbox)
            windows = make_edits(admin, sandbox, edits, args.seconds)
            deadline = time.monotonic() + (60 if webhooks else 3 * interval + 60)
            crossed = wait_crossed(admin, sandbox, edits, deadline)
            routes = calls_by_route(sandbox) - before
        found = latencies(sandbox, crossed)
        return Result(mode, found, len(edits) - len(crossed), routes, len(edits), windows)


def verdict(hooks: Result, polling: Result) -> str:
    ok = hooks.p95 <= P95_TARGET_SECONDS and hooks.lost == 0 and polling.lost == 0
    return (
        f"verdict: {'ok' if ok else 'MISSED'}: webhooks p95 {hooks.p95:.2f} s "
        f"(target <= {P95_TARGET_SECONDS:.0f} s, polling only {polling.p95:.2f} s); "
        f"lost {hooks.lost} + {polling.lost} (target 0); calls per edit "
        f"{hooks.calls / hooks.edits:.3f} with webhooks (floor {hooks.floor:.3f}), "
        f"{polling.calls / polling.edits:.3f} polling only"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.propagation",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--edits", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--poll", type=int, default=60, help="polling-only interval (s)")
    args = parser.parse_args(argv)
    print(f"machine load at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    hooks, polling = (run_mode(mode, args) for mode in ("webhooks", "polling"))
    for result in (hooks, polling):
        title = f"{result.mode} ({args.edits} UI edits over {args.seconds:.0f} s, {TIER} tier)"
        print_table(title, result.rows())
    print("\n" + verdict(hooks, polling))


if __name__ == "__main__":
    main()
