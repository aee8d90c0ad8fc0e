"""A sandbox portal (one HubSpot account) and the :class:`Sandbox` that holds several.

The ``Portal`` methods simulate what people do in the HubSpot UI (``source="CRM_UI"``) for tests,
the demo and benchmarks; HTTP writes go through the same store with ``source="API"``.

A sandbox serves many portals cheaply (a benchmark runs 1,000 partner portals in one process):
a portal's state is built the first time it is used (a request, ``portal(name)``), portals with
equal property and pipeline definitions share one read-only copy of them, and a portal without
faults or latency keeps no random generator. Nothing a client or test sees depends on when a
portal was built: its deal ids, clock, limits and seeds come from its spec and position.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hubspot_sandbox.clock import Clock, SystemClock, to_epoch_ms
from hubspot_sandbox.delivery import WebhookDelivery
from hubspot_sandbox.errors import object_not_found
from hubspot_sandbox.faults import FaultInjector, FaultSpec
from hubspot_sandbox.latency import Latency
from hubspot_sandbox.properties import ALWAYS_RETURNED, PropertyBook
from hubspot_sandbox.ratelimit import RateLimiter
from hubspot_sandbox.records import Deal
from hubspot_sandbox.search_cache import SearchCache
from hubspot_sandbox.spec import Owner, PortalSpec
from hubspot_sandbox.store import DealStore
from hubspot_sandbox.webhooks import WebhookSpec, hub_id

UI = "CRM_UI"


class Portal:
    """One portal: deals, rate limiter, faults and request counters."""

    def __init__(self, spec: PortalSpec, *, clock: Clock, seed: int, id_base: int) -> None:
        self.spec = spec
        self.name = spec.name
        self.clock = clock
        self.book = PropertyBook(spec.properties, spec.pipelines, spec.owners)
        self._owners = list(spec.owners)
        self._owner_lock = threading.Lock()
        self.store = DealStore(self.book, self.now_ms, spec.id_base or id_base)
        self.limiter = RateLimiter(
            spec.limits(), spec.search_rate_per_second, clock, zone=ZoneInfo(spec.timezone)
        )
        self.faults = FaultInjector(f"{seed}/{spec.name}")
        self.latency = Latency(f"{seed}/{spec.name}/latency", *spec.latency_seconds)
        self.search_cache = SearchCache()
        self._counts: defaultdict[str, Counter[int]] = defaultdict(Counter)
        self._count_lock = threading.Lock()
        self.hub_id = hub_id(spec.name)
        """HubSpot's account id for this portal (``portalId`` in webhook events)."""
        self._webhooks: WebhookDelivery | None = None

    def now_ms(self) -> int:
        return to_epoch_ms(self.clock.now())

    # -- simulating people -----------------------------------------------------------------

    def create_deal(
        self,
        props: Mapping[str, Any],
        *,
        source: str = UI,
        at: datetime | None = None,
        source_id: str | None = None,
    ) -> str:
        """Create a deal as a user would (validated like the API); returns its id."""
        deal = self.store.create(props, source=source, source_id=source_id, at_ms=_ms(at))
        return str(deal.id)

    def edit_deal(
        self,
        deal_id: str,
        props: Mapping[str, Any],
        *,
        source: str = UI,
        at: datetime | None = None,
        source_id: str | None = None,
    ) -> None:
        """Change properties of an active deal ("" clears); raises SandboxApiError if invalid."""
        deal = self.store.require(str(deal_id))
        self.store.update(deal, props, source=source, source_id=source_id, at_ms=_ms(at))

    def archive_deal(self, deal_id: str) -> None:
        """Delete a deal in the UI (it goes to the recycling bin)."""
        self.store.archive(self.store.require(str(deal_id)), source=UI)

    def restore_deal(self, deal_id: str) -> None:
        """Restore an archived deal from the recycling bin, as in the UI."""
        deal = self.store.get(str(deal_id), archived=True)
        if deal is None:
            raise object_not_found(str(deal_id))
        self.store.restore(deal, source=UI)

    def merge_deals(self, primary_id: str, merged_id: str) -> None:
        """Merge deal ``merged_id`` into ``primary_id`` in the UI: the primary keeps its id and
        its values, takes the values only the other had, and the other is archived."""
        self.store.merge(self.store.require(str(primary_id)), self.store.require(str(merged_id)))

    def register_deal(self, deal_id: str, *, at: datetime | None = None) -> None:
        """A partner registers a shared deal in HubSpot's UI: its registration count becomes 1.
        (No API does this; deals created through the API are never registered.)"""
        self.store.register(self.store.require(str(deal_id)), _ms(at))

    def end_registration(self, deal_id: str, *, at: datetime | None = None) -> None:
        """The deal's registration ends (expired, rejected): its registration count becomes 0."""
        self.store.register(self.store.require(str(deal_id)), _ms(at), active=False)

    def get_deal(self, deal_id: str) -> dict[str, str | None] | None:
        """All properties of an active deal (system ones included), or None."""
        deal = self.store.get(str(deal_id))
        return _all_properties(deal) if deal is not None else None

    def deals(self) -> list[dict[str, str | None]]:
        """Every active deal's properties, in id order."""
        return [_all_properties(d) for d in self.store.active()]

    def history(self, deal_id: str, name: str) -> list[dict[str, Any]]:
        """``propertiesWithHistory`` entries of one property, newest first."""
        return list(self.store.require(str(deal_id)).history(name))

    def bulk_load(
        self,
        rows: Sequence[Mapping[str, Any]],
        *,
        modified_at: datetime | None = None,
        source: str = "IMPORT",
    ) -> list[str]:
        """Create many deals fast, all stamped with one ``hs_lastmodifieddate`` (e.g. an import)."""
        at_ms = _ms(modified_at) or self.now_ms()
        return self.store.bulk_create(rows, at_ms, source)

    # -- users ----------------------------------------------------------------------------

    @property
    def owners(self) -> list[Owner]:
        """Every owner, deactivated (archived) ones included, in creation order."""
        with self._owner_lock:
            return list(self._owners)

    def deactivate_owner(self, owner_id: str) -> None:
        """Deactivate a user: the owner is archived (listed with ``archived=true`` only) and
        its id is no longer a valid owner-property value. Deals keep the ids they hold."""
        self._set_owner(owner_id, archived=True)

    def reactivate_owner(self, owner_id: str) -> None:
        self._set_owner(owner_id, archived=False)

    def add_owner(self, owner: Owner) -> None:
        """A new user joins the account."""
        with self._owner_lock:
            self._owners.append(owner)
            self.book.set_owners(self._owners)

    def _set_owner(self, owner_id: str, *, archived: bool) -> None:
        with self._owner_lock:
            index = next((i for i, o in enumerate(self._owners) if o.id == owner_id), None)
            if index is None:
                raise KeyError(f"no owner {owner_id!r} in portal {self.name!r}")
            self._owners[index] = replace(self._owners[index], archived=archived)
            self.book.set_owners(self._owners)

    # -- webhooks -------------------------------------------------------------------------

    def configure_webhooks(self, spec: WebhookSpec | None) -> WebhookDelivery | None:
        """Send this portal's deal events to ``spec.target_url`` from now on (None: stop)."""
        old, self._webhooks = self._webhooks, None
        self.store.observer = None
        if old is not None:
            old.close()
        if spec is not None:
            portal_id = spec.portal_id or self.hub_id
            self._webhooks = WebhookDelivery(
                spec, clock=self.clock, portal_id=portal_id, name=self.name
            )
            self.store.observer = self._webhooks.observe
        return self._webhooks

    @property
    def webhooks(self) -> WebhookDelivery | None:
        """The running deliveries (``.stats``, ``.flush()``), or None."""
        return self._webhooks

    # -- faults and counters ---------------------------------------------------------------

    def set_faults(self, spec: FaultSpec) -> None:
        self.faults.configure(spec)

    def set_latency(self, low: float, high: float) -> None:
        """Answer each API call after a uniform draw of ``low``..``high`` seconds (0, 0: off)."""
        self.latency.configure(low, high)

    def set_tier(self, tier: str) -> None:
        """Switch the rate-limit tier at run time (e.g. a benchmark's set-up runs unlimited,
        its measurement at the tier); the new limits start with empty windows and day count."""
        spec = replace(self.spec, tier=tier)
        limiter = RateLimiter(
            spec.limits(), spec.search_rate_per_second, self.clock, zone=ZoneInfo(spec.timezone)
        )
        self.spec, self.limiter = spec, limiter

    def rotate_token(self, token: str) -> None:
        """The account's private app token is rotated (or revoked): from now on the old one
        is refused with 401, as HubSpot refuses a revoked token."""
        self.spec = replace(self.spec, token=token)

    def index_lag_seconds(self) -> float:
        override = self.faults.spec.index_lag_seconds
        return self.spec.index_lag_seconds if override is None else override

    def count(self, endpoint: str, status: int) -> None:
        with self._count_lock:
            self._counts[endpoint][status] += 1

    @property
    def counters(self) -> dict[str, dict[int, int]]:
        """Requests served, by endpoint name and HTTP status."""
        with self._count_lock:
            return {name: dict(counts) for name, counts in self._counts.items()}

    @property
    def total_requests(self) -> int:
        with self._count_lock:
            return sum(sum(c.values()) for c in self._counts.values())

    def reset_counters(self) -> None:
        with self._count_lock:
            self._counts.clear()


class Sandbox:
    """Several isolated portals served by one server; ``portal(name)`` returns one.

    Specs are checked here (unique names, known tier, time zone, a pipeline), so a bad spec
    fails at once; each portal's state is built at its first use."""

    def __init__(
        self, portals: Sequence[PortalSpec], *, seed: int = 0, clock: Clock | None = None
    ) -> None:
        names = [p.name for p in portals]
        if len(set(names)) != len(names) or not names:
            raise ValueError(f"portal names must be unique and non-empty, got {names}")
        for spec in portals:
            _check(spec)
        self.seed = seed
        self.clock: Clock = clock or SystemClock()
        self._specs = {spec.name: (i, spec) for i, spec in enumerate(portals)}
        self._built: dict[str, Portal] = {}
        self._build_lock = threading.Lock()

    def portal(self, name: str) -> Portal:
        found = self.find(name)
        if found is None:
            raise KeyError(f"no portal {name!r}; portals: {sorted(self._specs)}")
        return found

    def find(self, name: str) -> Portal | None:
        """The portal called ``name`` (built now if it was never used), or None."""
        built = self._built.get(name)
        if built is not None:
            return built
        entry = self._specs.get(name)
        if entry is None:
            return None
        with self._build_lock:
            built = self._built.get(name)
            if built is None:
                index, spec = entry
                built = Portal(
                    spec,
                    clock=spec.clock or self.clock,
                    seed=self.seed,
                    id_base=(index + 1) * 10**10,
                )
                self._built[name] = built
        return built

    @property
    def specs(self) -> list[PortalSpec]:
        """Every portal's spec as it is now (a built portal's tier or token may have changed),
        in the order given; builds nothing."""
        built = self._built
        return [built[n].spec if n in built else spec for n, (_, spec) in self._specs.items()]

    @property
    def portals(self) -> list[Portal]:
        """Every portal, in the order given (building those never used)."""
        return [self.portal(name) for name in self._specs]

    @property
    def built_portals(self) -> list[Portal]:
        """The portals used so far (a request, ``portal()``), in the order given: the only ones
        that can have deals, counters, faults or latency."""
        return [p for name in self._specs if (p := self._built.get(name)) is not None]

    def close(self) -> None:
        """Stop every portal's webhook deliveries (only a portal used can have any)."""
        for portal in self.built_portals:
            portal.configure_webhooks(None)


def _check(spec: PortalSpec) -> None:
    """What building the portal would refuse, refused now: an unknown tier or time zone, no
    pipeline."""
    spec.limits()
    ZoneInfo(spec.timezone)
    if not spec.pipelines:
        raise ValueError(f"portal {spec.name!r} needs at least one deal pipeline")
    Latency("check", *spec.latency_seconds)


def _ms(at: datetime | None) -> int | None:
    return to_epoch_ms(at) if at is not None else None


def _all_properties(deal: Deal) -> dict[str, str | None]:
    names: Iterable[str] = (
        *deal.values,
        *ALWAYS_RETURNED,
        "hs_num_associated_active_deal_registrations",
    )
    return {name: deal.value(name) for name in names if not name.startswith("__")}
