"""A rep discovery that keeps failing starves every pair it serves: health must turn red."""

from __future__ import annotations

from sync_worker.service.metrics import Health
from sync_worker.sync.discoverer import DiscoveryReport


def test_discovery_failing_in_a_row_turns_health_red_and_recovers() -> None:
    health = Health(threshold=2)
    failed = DiscoveryReport("rep", error="endpoint 'rep': HubSpot 401")
    health.record_discovery(failed)
    assert health.snapshot()[0]
    health.record_discovery(failed)
    healthy, body = health.snapshot()
    assert not healthy
    assert body["failing_pairs"] == {
        "discover:rep": {
            "consecutive_failures": 2,
            "reason": "rep discovery: endpoint 'rep': HubSpot 401",
        }
    }
    health.record_discovery(DiscoveryReport("rep"))
    assert health.snapshot()[0]


def test_a_discovery_another_daemon_ran_changes_nothing() -> None:
    health = Health(threshold=1)
    health.record_discovery(DiscoveryReport("rep", error="boom"))
    health.record_discovery(DiscoveryReport("rep", ran=False))
    assert not health.snapshot()[0]
