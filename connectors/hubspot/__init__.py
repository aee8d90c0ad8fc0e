"""HubSpot CRM v3 behind the :class:`sync_worker.connectors.base.Connector` port.

Build one per portal with :func:`make_hubspot_connector`, sharing one :class:`LimiterRegistry`
per process so that every connector using the same credential shares its rate budget (give the
registry a :class:`~sync_worker.connectors.budget.BudgetStore`, as the runtime gives it the
state store's, and processes share it too)::

    limiters = LimiterRegistry()
    rep = make_hubspot_connector(
        name="rep", base_url="https://api.hubapi.com", token=SecretStr(token),
        tier="enterprise", clock=SystemClock(), limiter_registry=limiters,
    )
    for page in rep.changes(cursor, scope, ["dealname", "amount"]):
        ...  # process, then persist page.cursor

The rooms: ``client`` (HTTP, auth, pacing, the one retry policy), ``status`` (status -> error
table), ``retry``, ``ratelimit``, ``paginator`` (search windows, pure), ``batch`` and
``records`` (JSON <-> port values, pure), ``adapter`` (the connector), ``factory``;
``operators`` and ``standard`` model HubSpot's filter semantics and write checks for the
in-process backends.
"""

from __future__ import annotations

from sync_worker.connectors.hubspot.adapter import HubSpotConnector
from sync_worker.connectors.hubspot.client import BearerAuth, HubSpotClient
from sync_worker.connectors.hubspot.factory import make_hubspot_connector
from sync_worker.connectors.hubspot.ratelimit import TIER_LIMITS, CredentialLimiter, LimiterRegistry
from sync_worker.connectors.hubspot.retry import RetrySettings

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
