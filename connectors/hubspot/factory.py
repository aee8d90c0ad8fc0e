"""Build a :class:`HubSpotConnector` for one portal from plain settings."""

from __future__ import annotations

import functools
import ssl
from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from pydantic import SecretStr

from sync_worker.connectors.hubspot.adapter import HubSpotConnector
from sync_worker.connectors.hubspot.client import BearerAuth, HubSpotClient
from sync_worker.connectors.hubspot.metadata import MetadataRegistry
from sync_worker.connectors.hubspot.ratelimit import UNLIMITED, LimiterRegistry
from sync_worker.connectors.hubspot.retry import RetrySettings
from sync_worker.kernel.clock import Clock
from sync_worker.kernel.errors import ConfigError

__all__ = ["make_hubspot_connector"]

USER_AGENT = "shared-deal-sync/0.1"
SEARCH_PAGE_MAX = 200  # HubSpot's search limit


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context for every client of the process: building one loads the CA bundle
    (about 22 ms each), which made a 1,000-pair start spend some 45 s on 2,001 clients. A
    context is safe to share between connections and threads; it honours ``SSL_CERT_FILE`` and
    ``SSL_CERT_DIR`` as httpx's default does."""
    return httpx.create_ssl_context()


def make_hubspot_connector(
    *,
    name: str,
    base_url: str,
    token: SecretStr,
    tier: str,
    clock: Clock,
    timeout: float = 30.0,
    overlap_seconds: float = 120.0,
    transport: httpx.BaseTransport | None = None,
    limiter_registry: LimiterRegistry | None = None,
    retry: RetrySettings | None = None,
    page_size: int = 200,
    metadata_ttl_seconds: float = 300.0,
    metadata_registry: MetadataRegistry | None = None,
    account_timezone: str = "UTC",
) -> HubSpotConnector:
    """A connector for the portal at ``base_url`` (e.g. ``https://api.hubapi.com`` or a
    sandbox's ``http://127.0.0.1:PORT/<portal>``).

    Pass the process's one ``limiter_registry`` so every connector using the same credential
    shares its pacing; without it the connector gets a private limiter. ``tier`` is one of
    :data:`sync_worker.connectors.hubspot.ratelimit.TIER_LIMITS`. ``account_timezone`` (an IANA
    name, as
    ``GET /account-info/v3/details`` reports it) is where the daily budget resets at midnight.
    """
    try:
        zone = ZoneInfo(account_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown account time zone {account_timezone!r}") from None
    if not 2 <= page_size <= SEARCH_PAGE_MAX:
        # Consecutive search pages overlap by one record: a page of one could never advance.
        raise ConfigError(f"page_size must be 2..{SEARCH_PAGE_MAX}, not {page_size}")
    limiter = None
    if tier != UNLIMITED:  # a local sandbox without limits: no client-side pacing either
        registry = limiter_registry or LimiterRegistry()
        limiter = registry.get(base_url=base_url, token=token, tier=tier, clock=clock)
    http = httpx.Client(
        base_url=base_url,
        verify=tls_context(),
        auth=BearerAuth(token),
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        limits=httpx.Limits(max_connections=10, max_keepalive_connections=10),
        headers={"Accept": "application/json", "User-Agent": USER_AGENT},
        transport=transport,
    )
    client = HubSpotClient(
        http, clock=clock, limiter=limiter, retry=retry, account_timezone=zone, endpoint=name
    )
    return HubSpotConnector(
        client,
        name=name,
        overlap=timedelta(seconds=overlap_seconds),
        clock=clock,
        page_size=page_size,
        metadata_ttl=timedelta(seconds=metadata_ttl_seconds),
        metadata=(
            metadata_registry.get(
                base_url=base_url,
                token=token,
                clock=clock,
                ttl=timedelta(seconds=metadata_ttl_seconds),
            )
            if metadata_registry is not None
            else None
        ),
    )
