"""Which inboxes a webhook event goes to, from the configured pairs.

An endpoint (portal) is the **partner** side of some pairs and/or the **rep** side of others.
A partner deal's change concerns exactly the pairs using that endpoint as partner: one entry
per pair. A rep deal's change concerns whichever pair its partner account names, which only a
read of the deal tells: one entry for the endpoint (``endpoint:<name>``), which discovery
routes. Disabled pairs receive nothing (they are never synced).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sync_worker.kernel.model import Side
from sync_worker.runtime.config import PairSettings
from sync_worker.service.webhooks.events import DealEvent
from sync_worker.service.webhooks.ports import WEBHOOK_SOURCE
from sync_worker.state.base import InboxEntry, endpoint_key


@dataclass(frozen=True, slots=True)
class EndpointRoles:
    """The pairs an endpoint is the partner of, and whether it is any pair's rep."""

    partner_of: tuple[str, ...] = ()
    rep: bool = False

    @property
    def used(self) -> bool:
        return bool(self.partner_of) or self.rep


def endpoint_roles(pairs: Mapping[str, PairSettings]) -> dict[str, EndpointRoles]:
    """Each endpoint's roles among the enabled ``pairs``."""
    partner_of: dict[str, list[str]] = {}
    reps: set[str] = set()
    for name, pair in sorted(pairs.items()):
        if not pair.enabled:
            continue
        partner_of.setdefault(pair.partner, []).append(name)
        reps.add(pair.rep)
    return {
        endpoint: EndpointRoles(tuple(partner_of.get(endpoint, ())), endpoint in reps)
        for endpoint in sorted({*partner_of, *reps})
    }


def route(
    endpoint: str, roles: EndpointRoles, events: Iterable[DealEvent], now: datetime
) -> list[InboxEntry]:
    """The inbox entries for ``events`` received on ``endpoint``, without repeats."""
    targets = [(pair, Side.PARTNER) for pair in roles.partner_of]
    if roles.rep:
        targets.append((endpoint_key(endpoint), Side.REP))
    entries: dict[tuple[str, Side, str], InboxEntry] = {}
    for event in events:
        for deal_id in event.deal_ids:
            for key, side in targets:
                entries.setdefault(
                    (key, side, deal_id), InboxEntry(key, side, deal_id, WEBHOOK_SOURCE, now)
                )
    return list(entries.values())
