"""The webhook receiver built from the configuration: an endpoint's route is on exactly when
the endpoint has a webhook secret (``SYNC_WORKER_ENDPOINTS__<NAME>__WEBHOOK_SECRET`` or
``webhook_secret_file``)."""

from __future__ import annotations

from sync_worker.kernel.clock import Clock
from sync_worker.runtime.config import Settings
from sync_worker.service.webhooks.counters import WebhookCounters
from sync_worker.service.webhooks.ports import Sink, Wake, WebhookLedger
from sync_worker.service.webhooks.receiver import WebhookEndpoint, WebhookReceiver
from sync_worker.service.webhooks.routing import EndpointRoles, endpoint_roles


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
