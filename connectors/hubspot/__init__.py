"""HubSpot CRM v3 behind the :class:`connectors.base.Connector` port.

Build one with :func:`make_hubspot_connector`; the pieces (client, limiter registry, retry
settings, paginator) are public for tests and for composing differently.
"""

from __future__ import annotations

from connectors.hubspot.adapter import HubSpotConnector
from connectors.hubspot.client import BearerAuth, HubSpotClient
from connectors.hubspot.factory import make_hubspot_connector
from connectors.hubspot.ratelimit import TIER_LIMITS, CredentialLimiter, LimiterRegistry
from connectors.hubspot.retry import RetrySettings

__all__ = [
    "TIER_LIMITS",
    "BearerAuth",
    "CredentialLimiter",
    "HubSpotClient",
    "HubSpotConnector",
    "LimiterRegistry",
    "RetrySettings",
    "make_hubspot_connector",
]
