"""Every connector of a process shares one TLS context: building one loads the CA bundle (about
22 ms), and a 1,000-pair programme builds 2,001 connectors, which took some 45 s at start."""

from __future__ import annotations

from pydantic import SecretStr

from sync_worker.connectors.hubspot import make_hubspot_connector
from sync_worker.connectors.hubspot.factory import tls_context
from sync_worker.kernel.clock import FakeClock


def test_a_thousand_connectors_load_the_ca_bundle_at_most_once() -> None:
    tls_context()  # whatever ran before, the context exists now
    before = tls_context.cache_info().misses
    for n in range(1000):
        make_hubspot_connector(
            name=f"partner-{n}",
            base_url=f"https://api.hubapi.test/{n}",
            token=SecretStr(f"pat-na1-partner-{n:04d}"),
            tier="free",
            clock=FakeClock(),
        ).close()
    assert tls_context.cache_info().misses == before
