"""The webhook receiver built from the configuration: an endpoint's route is on exactly when
the endpoint has a webhook secret (``SYNC_WORKER_ENDPOINTS__<NAME>__WEBHOOK_SECRET`` or
``webhook_secret_file``)."""

from __future__ import annotations

import structlog
from starlette.routing import BaseRoute

from sync_worker.kernel.clock import Clock
from sync_worker.runtime.config import Settings
from sync_worker.runtime.wiring import Runtime
from sync_worker.service.webhooks.counters import WebhookCounters
from sync_worker.service.webhooks.ports import Sink, Wake, WebhookLedger
from sync_worker.service.webhooks.receiver import PATH, WebhookEndpoint, WebhookReceiver
from sync_worker.service.webhooks.routing import EndpointRoles, endpoint_roles

log = structlog.stdlib.get_logger("sync_worker.service.webhooks")


def webhook_endpoints(settings: Settings) -> dict[str, WebhookEndpoint]:
    """The endpoints whose webhook route is on, with their roles among the enabled pairs."""
    roles = endpoint_roles(settings.pairs)
    return {
        name: WebhookEndpoint(
            name,
            endpoint.webhook_secret,
            roles.get(name, EndpointRoles()),
            endpoint.webhook_portal_id,
        )
        for name, endpoint in sorted(settings.endpoints.items())
        if endpoint.webhook_secret is not None and endpoint.webhook_secret.get_secret_value()
    }


def webhook_receiver(
    settings: Settings,
    *,
    ledger: WebhookLedger,
    sink: Sink,
    wake: Wake,
    clock: Clock,
    counters: WebhookCounters,
) -> WebhookReceiver:
    """The receiver for ``settings`` (its :meth:`~WebhookReceiver.routes` are empty when no
    endpoint has a webhook secret)."""
    return WebhookReceiver(
        webhook_endpoints(settings),
        ledger=ledger,
        sink=sink,
        wake=wake,
        clock=clock,
        counters=counters,
        public_url=settings.worker.webhook_public_url,
        max_body_bytes=settings.worker.webhook_max_body_bytes,
    )


def daemon_routes(
    runtime: Runtime, *, sink: Sink, wake: Wake, counters: WebhookCounters, serving: bool
) -> list[BaseRoute]:
    """The webhook route for the daemon's HTTP server (none when no endpoint has a secret, or
    the store keeps no ledger), logging which endpoints it serves; ``serving``: whether the
    daemon runs an HTTP server at all."""
    settings = runtime.config.settings
    ledger = runtime.webhook_ledger
    endpoints = webhook_endpoints(settings)
    if not endpoints or ledger is None:
        return []
    if not serving:
        log.warning(
            "webhooks_not_served",
            endpoints=sorted(endpoints),
            reason="worker.metrics_port = 0: the daemon serves no HTTP; polling only",
        )
        return []
    receiver = webhook_receiver(
        settings, ledger=ledger, sink=sink, wake=wake, clock=runtime.clock, counters=counters
    )
    log.info("webhooks_served", endpoints=sorted(endpoints), path=PATH)
    return list(receiver.routes())
