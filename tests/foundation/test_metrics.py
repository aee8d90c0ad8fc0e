"""/metrics as operators expect it: backlog and credential gauges, process metrics, one series
per sample (no `_created` twins), served at /metrics itself by prometheus_client's own app."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
from pydantic import SecretStr

from sync_worker.connectors.hubspot.ratelimit import LimiterRegistry
from sync_worker.kernel.clock import FakeClock
from sync_worker.service.http import ThreadedServer
from sync_worker.service.metrics import Health, Metrics, build_app
from sync_worker.state import open_store
from sync_worker.state.budget import SqlBudgets
from sync_worker.sync.engine import CycleReport, Outcome

TOKEN = "pat-na1-metrics-0000-secret"
URL = "https://api.hubapi.com"


def scrape() -> str:
    clock = FakeClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    limiters = LimiterRegistry()
    limiter = limiters.get(
        base_url="https://api.hubapi.com", token=SecretStr(TOKEN), tier="free", clock=clock
    )
    for _ in range(100):  # more than the 10-second window holds: the rest wait
        limiter.acquire()
    limiter.observe(httpx.Headers({"X-HubSpot-RateLimit-Daily-Remaining": "1234"}))
    for status in (429, 429, 503, 200, 404):
        limiter.count_status(status)
    metrics = Metrics()
    metrics.watch_credentials(limiters)
    metrics.observe(
        CycleReport("agency-001", "r1", Outcome.OK, {"conflicts": 1}, 3, 0.5), clock.now()
    )
    metrics.backlog("agency-001", open_conflicts=2, dead_letters=7)
    with ThreadedServer(build_app(metrics, Health(threshold=3))) as server:
        response = httpx.get(f"{server.url}/metrics", follow_redirects=False, timeout=5)
    assert response.status_code == 200
    return str(response.text)


def test_backlog_credential_and_process_metrics() -> None:
    text = scrape()
    assert 'sync_open_conflicts{pair="agency-001"} 2.0' in text
    assert 'sync_dead_letter_backlog{pair="agency-001"} 7.0' in text
    credential = re.search(r'sync_credential_daily_remaining\{credential="([^"]+)"\} 1234.0', text)
    assert credential is not None
    label = credential.group(1)
    assert label.startswith("https://api.hubapi.com#")
    assert f'sync_credential_responses_total{{credential="{label}",status="429"}} 2.0' in text
    assert f'sync_credential_responses_total{{credential="{label}",status="5xx"}} 1.0' in text
    waited = re.search(
        rf'sync_credential_limiter_wait_seconds_total\{{credential="{re.escape(label)}"\}} (\S+)',
        text,
    )
    assert waited is not None
    assert float(waited.group(1)) > 0
    assert "process_resident_memory_bytes" in text
    assert "python_info" in text
    assert TOKEN not in text


def test_no_created_series_and_one_family_each() -> None:
    text = scrape()
    assert not re.search(r"^\S+_created[{ ]", text, flags=re.MULTILINE)
    families = re.findall(r"^# TYPE (\S+) ", text, flags=re.MULTILINE)
    assert len(families) == len(set(families))


def test_credential_figures_are_the_shared_budget_s(tmp_path: Path) -> None:
    """Two processes' registries on one state store: the one that sent nothing exports what
    the other spent and what HubSpot told it."""
    clock = FakeClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    stores = [open_store(f"sqlite:///{tmp_path / 'state.db'}", clock=clock) for _ in range(2)]
    spender, watcher = (LimiterRegistry(budgets=SqlBudgets(s.engine)) for s in stores)
    try:
        spent = spender.get(base_url=URL, token=SecretStr(TOKEN), tier="free", clock=clock)
        watcher.get(base_url=URL, token=SecretStr(TOKEN), tier="free", clock=clock)
        spent.observe(httpx.Headers({"X-HubSpot-RateLimit-Daily-Remaining": "4321"}))
        for _ in range(4):
            spent.acquire()
        metrics = Metrics()
        metrics.watch_credentials(watcher)
        text = metrics.render().decode()
    finally:
        for store in stores:
            store.close()

    assert re.search(r'sync_credential_daily_remaining\{credential="[^"]+"\} 4321.0', text)
    assert re.search(
        r'sync_credential_window_remaining\{credential="[^"]+",kind="general"\} 91.0', text
    )
    assert re.search(
        r'sync_credential_window_remaining\{credential="[^"]+",kind="search"\} 5.0', text
    )
