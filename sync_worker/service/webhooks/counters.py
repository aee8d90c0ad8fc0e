"""The webhook route's Prometheus counters (registered on the daemon's registry)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class WebhookCounters:
    """``sync_webhook_requests_total{endpoint,status}``: answers by HTTP status (401s are
    refused signatures); ``sync_webhook_events_total{endpoint,outcome}``: deal events
    ``queued``, ``duplicate`` (an event id seen lately), ``ignored`` (another object or event
    type), ``malformed``, ``foreign`` (another portal's)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "sync_webhook_requests",
            "Webhook requests answered, by HTTP status.",
            ["endpoint", "status"],
            registry=registry,
        )
        self.events = Counter(
            "sync_webhook_events",
            "Webhook events received, by what became of them.",
            ["endpoint", "outcome"],
            registry=registry,
        )
