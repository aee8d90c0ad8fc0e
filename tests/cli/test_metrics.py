"""Metrics a pager can watch: linked deals skipped because their pair is out of scope."""

from __future__ import annotations

from datetime import UTC, datetime

from sync_worker.service.metrics import Metrics
from sync_worker.sync.engine import CycleReport, Outcome


def test_out_of_scope_skips_are_counted_per_pair() -> None:
    metrics = Metrics()
    report = CycleReport("agency-001", "r1", Outcome.OK, {"skipped.out_of_scope": 2}, 3, 0.5)

    metrics.observe(report, datetime(2026, 3, 1, tzinfo=UTC))
    metrics.observe(report, datetime(2026, 3, 1, tzinfo=UTC))

    text = metrics.render().decode()
    assert 'sync_linked_out_of_scope_total{pair="agency-001"} 4.0' in text
