"""A local, HubSpot-faithful CRM for the demo, integration tests and benchmarks.

One server serves several isolated portals, each at ``http://HOST:PORT/<portal>`` followed by
HubSpot's CRM v3 paths. Start two demo portals with one call::

    from hubspot_sandbox import Sandbox, SandboxServer, demo_portals, seed_demo

    sandbox = Sandbox(demo_portals(tier="unlimited"))
    seed_demo(sandbox, deals=300)
    with SandboxServer(sandbox) as server:
        partner_url = server.base_url("partner")   # token "demo-partner-token"
        rep_url = server.base_url("rep")           # token "demo-rep-token"

``serve()`` is the blocking entry behind ``sync-worker sandbox`` and ``python -m
hubspot_sandbox``. Every behaviour the sandbox assumes where HubSpot is silent is stated in
the docstring of the module that implements it (search, filters, batch, records, ratelimit,
properties, wire, deals_api, store, webhooks, delivery).
"""

from hubspot_sandbox.app import build_app
from hubspot_sandbox.delivery import DeliveryStats, WebhookDelivery, sign_v3
from hubspot_sandbox.errors import SandboxApiError
from hubspot_sandbox.faults import FaultSpec
from hubspot_sandbox.portal import Portal, Sandbox
from hubspot_sandbox.seed import demo_portals, seed_demo
from hubspot_sandbox.server import SandboxServer, serve
from hubspot_sandbox.spec import (
    DEFAULT_PIPELINE,
    TIERS,
    UNLIMITED,
    Option,
    Owner,
    Pipeline,
    PortalSpec,
    PropertyDef,
    Stage,
)
from hubspot_sandbox.webhooks import WebhookSpec

__all__ = [
    "DEFAULT_PIPELINE",
    "TIERS",
    "UNLIMITED",
    "DeliveryStats",
    "FaultSpec",
    "Option",
    "Owner",
    "Pipeline",
    "Portal",
    "PortalSpec",
    "PropertyDef",
    "Sandbox",
    "SandboxApiError",
    "SandboxServer",
    "Stage",
    "WebhookDelivery",
    "WebhookSpec",
    "build_app",
    "demo_portals",
    "seed_demo",
    "serve",
    "sign_v3",
]
