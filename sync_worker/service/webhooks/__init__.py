"""HubSpot webhooks into the daemon: ``POST /webhooks/hubspot/{endpoint}`` checks signature v3
and queues the changed deals in their pairs' inboxes (see :mod:`.receiver`)."""

from sync_worker.service.webhooks.counters import WebhookCounters
from sync_worker.service.webhooks.ports import Sink, Wake, WebhookLedger
from sync_worker.service.webhooks.receiver import PATH, WebhookEndpoint, WebhookReceiver
from sync_worker.service.webhooks.setup import daemon_routes, webhook_endpoints, webhook_receiver

__all__ = [
    "PATH",
    "Sink",
    "Wake",
    "WebhookCounters",
    "WebhookEndpoint",
    "WebhookLedger",
    "WebhookReceiver",
    "daemon_routes",
    "webhook_endpoints",
    "webhook_receiver",
]
