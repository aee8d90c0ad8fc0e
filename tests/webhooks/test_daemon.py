"""The daemon with webhooks, in process, against the sandbox: a UI edit crosses through the
inbox without waiting for a poll, and the worker's own write, which comes back as a webhook,
plans nothing (no write follows it)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from hubspot_sandbox import Portal, Sandbox, SandboxServer, WebhookSpec, demo_portals, seed_demo
from sync_worker.mappings import builtin_mapping_path
from sync_worker.runtime.config import load_config
from sync_worker.runtime.wiring import Runtime, runtime_for
from sync_worker.service.daemon import Daemon
from tests.cli.conftest import PARTNER_TOKEN, REP_TOKEN, write_config

PARTNER_SECRET = "wh-partner-app-secret-1a2b3c4d5e6f"
REP_SECRET = "wh-rep-app-secret-6f5e4d3c2b1a"
WRITES = ("batch_update", "batch_upsert", "batch_create", "update", "create")
DEADLINE_SECONDS = 60.0


@dataclass
class Running:
    sandbox: Sandbox
    runtime: Runtime
    daemon: Daemon

    def hook(self, name: str) -> str:
        assert self.daemon.server is not None
        return f"{self.daemon.server.url}/webhooks/hubspot/{name}"

    def quiet(self) -> bool:
        """Nothing in flight: deliveries answered, inboxes empty, no cycle running."""
        delivered = all(p.webhooks is None or p.webhooks.flush(0.1) for p in self.sandbox.portals)
        return delivered and not self.runtime.store.inbox_heads() and not self.daemon.running


def wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def writes(portal: Portal) -> int:
    return sum(sum(portal.counters.get(name, {}).values()) for name in WRITES)


@pytest.fixture
def running(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> Iterator[Running]:
    for name, value in {
        "SYNC_WORKER_ENDPOINTS__PARTNER__TOKEN": PARTNER_TOKEN,
        "SYNC_WORKER_ENDPOINTS__REP__TOKEN": REP_TOKEN,
        "SYNC_WORKER_ENDPOINTS__PARTNER__WEBHOOK_SECRET": PARTNER_SECRET,
        "SYNC_WORKER_ENDPOINTS__REP__WEBHOOK_SECRET": REP_SECRET,
        "SYNC_WORKER_WORKER__INTERVAL_SECONDS": "3600",
        "SYNC_WORKER_PAIRS__AGENCY_001__INTERVAL_SECONDS": "3600",  # no poll during the test
    }.items():
        clean_env.setenv(name, value)
    portals = [
        replace(spec, token=token)
        for spec, token in zip(
            demo_portals(tier="unlimited"), (PARTNER_TOKEN, REP_TOKEN), strict=True
        )
    ]
    sandbox = Sandbox(portals)
    seed_demo(sandbox, deals=20)
    mapping = builtin_mapping_path("hubspot_shared_deals")
    with SandboxServer(sandbox) as server:
        config = write_config(tmp_path / "config.toml", server, tmp_path / "s.db", str(mapping))
        with runtime_for(load_config(config)) as runtime:
            daemon = Daemon(runtime)
            daemon.start()
            world = Running(sandbox, runtime, daemon)
            try:
                yield world
            finally:
                daemon.shutdown()
                sandbox.close()


def test_an_edit_crosses_by_webhook_and_the_echo_plans_nothing(running: Running) -> None:
    partner, rep = running.sandbox.portal("partner"), running.sandbox.portal("rep")
    wait_for(lambda: bool(running.runtime.store.status(["agency-001"])[0].links), "first sync")
    wait_for(running.quiet, "the first sync to end")
    for portal, secret in ((partner, PARTNER_SECRET), (rep, REP_SECRET)):
        spec = WebhookSpec(running.hook(portal.name), secret, batch_window_seconds=0.02)
        portal.configure_webhooks(spec)
        portal.reset_counters()
    deal = next(d for d in partner.deals() if d.get("rep_deal_id"))
    partner_id, rep_id = str(deal["hs_object_id"]), str(deal["rep_deal_id"])

    partner.edit_deal(partner_id, {"amount": "77777"})
    wait_for(lambda: (rep.get_deal(rep_id) or {}).get("amount") == "77777", "the edit to cross")
    wait_for(running.quiet, "the echo to be handled")

    assert writes(rep) == 1  # the edit, written once
    assert writes(partner) == 0  # nothing written back: the echo planned nothing
    assert rep.webhooks is not None
    assert rep.webhooks.stats.delivered >= 1  # the worker's own write came back as a webhook
    assert set(rep.webhooks.stats.requests) == {"204"}
    metrics = running.daemon.metrics.render().decode()
    assert 'sync_webhook_events_total{endpoint="rep",outcome="queued"}' in metrics
