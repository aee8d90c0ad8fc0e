"""A process dying mid-cycle converges on the next run: no duplicate, no lost edit, and no
write repeated beyond what the changes need."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import pytest
from structlog.testing import capture_logs

from hubspot_sandbox import FaultSpec, Portal
from sync_worker.connectors.base import Connector, RecordUpdate, WriteResult
from sync_worker.connectors.hubspot.retry import RetrySettings
from sync_worker.kernel.errors import TransientError
from sync_worker.kernel.model import Side
from sync_worker.state import PageCommit, SqlStateStore, StateStore
from tests.integration.world import PAIR, World, named_partner_deal

FAST_RETRY = RetrySettings(attempts=2, multiplier=0.01, max_backoff=0.05, jitter=0.01)


class ProcessDiedError(RuntimeError):
    """Stands for the process dying at the point it is raised."""


class DiesBeforeFirstCommit:
    """The real store, except that its first ``commit_page`` fails: the CRM writes of that page
    landed, the state describing them did not."""

    def __init__(self, inner: SqlStateStore) -> None:
        self.inner = inner
        self.died = False

    def commit_page(self, pair: str, commit: PageCommit) -> None:
        if not self.died:
            self.died = True
            raise ProcessDiedError("the process died before committing the page")
        self.inner.commit_page(pair, commit)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class LinkBackFails:
    """A connector whose first ``update`` (the link-back after a create) fails in transit."""

    def __init__(self, inner: Connector) -> None:
        self.inner = inner
        self.name = inner.name
        self.failed = False

    def update(self, updates: Sequence[RecordUpdate]) -> WriteResult:
        if not self.failed:
            self.failed = True
            raise TransientError("connection reset while writing the link back", status=None)
        return self.inner.update(updates)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def api_writes(portal: Portal, deal_id: str, name: str) -> int:
    return sum(1 for e in portal.history(deal_id, name) if e["sourceType"] == "API")


def assert_one_counterpart_each(world: World) -> None:
    """Every deal is linked to exactly one counterpart, both ways."""
    partner_deals, rep_deals = world.partner.deals(), world.rep.deals()
    assert len(partner_deals) == len(rep_deals)
    by_partner = {named_partner_deal(d["partner_deal_id"]): d for d in rep_deals}
    assert len(by_partner) == len(rep_deals)
    for deal in partner_deals:
        counterpart = by_partner[deal["hs_object_id"]]
        assert counterpart["hs_object_id"] == deal["rep_deal_id"]
        link = world.store.find_link(PAIR, str(deal["hs_object_id"]))
        assert link is not None
        assert (link.rep_id, link.status) == (deal["rep_deal_id"], "active")


def test_a_death_between_push_and_commit_converges_without_duplicates(world: World) -> None:
    (p1, r1), (p2, r2) = world.linked(amount="1000"), world.linked(amount="2000")
    world.settle(1)
    world.partner.edit_deal(p1, {"amount": "1500"})
    world.rep.edit_deal(r2, {"closedate": "2027-10-31T00:00:00.000Z"})
    registered = world.register(dealname="Registered before the crash")
    referred = world.refer(dealname="Referred before the crash")
    dying = DiesBeforeFirstCommit(world.store)
    ctx = world.context(store=cast(StateStore, dying))

    with capture_logs() as logs:
        crashed = world.cycle(ctx)
    recovered = [world.ok_cycle(ctx) for _ in range(3)]

    assert dying.died
    assert crashed.outcome == "failed"
    assert crashed.error_kind == "internal"
    assert "cycle_crashed" in [e["event"] for e in logs]
    assert_one_counterpart_each(world)
    assert len(world.partner.deals()) == 4
    assert world.rep_deal(r1)["amount"] == world.partner_deal(p1)["amount"] == "1500"
    assert world.partner_deal(p2)["closedate"] == "2027-10-31T00:00:00.000Z"
    assert world.rep_deal(r2)["closedate"] == "2027-10-31T00:00:00.000Z"
    # Each change was written once, whether before the crash or after it.
    assert api_writes(world.rep, r1, "amount") == 2  # the creation, then the edit
    assert api_writes(world.partner, p2, "closedate") == 1
    new_rep = world.rep_deals_for(registered)[0]
    assert api_writes(world.rep, str(new_rep["hs_object_id"]), "dealname") == 1
    assert api_writes(world.partner, registered, "rep_deal_id") == 1
    assert api_writes(world.rep, referred, "partner_deal_id") == 1
    assert world.store.dead_letters(PAIR) == []
    assert all(r.counts.get("created.partner", 0) == 0 for r in recovered[1:])


def test_a_recovered_creation_is_no_longer_pending(world: World) -> None:
    registered = world.register(dealname="Registered before the crash")
    referred = world.refer(dealname="Referred before the crash")
    ctx = world.context(store=cast(StateStore, DiesBeforeFirstCommit(world.store)))
    with capture_logs():
        assert world.cycle(ctx).outcome == "failed"
    world.settle(2)

    assert len(world.rep_deals_for(registered)) == 1
    assert world.store.pending(PAIR, Side.PARTNER, [registered]) == set()
    assert world.store.pending(PAIR, Side.REP, [referred]) == set()


def test_a_failed_link_back_after_the_create_leaves_one_linked_counterpart(world: World) -> None:
    partner_id = world.register(dealname="Created, link-back lost")
    flaky = LinkBackFails(world.connector("partner"))
    ctx = world.context(partner=flaky)

    crashed = world.cycle(ctx)
    assert crashed.outcome == "failed"
    assert crashed.error_kind == "connector"
    assert len(world.rep_deals_for(partner_id)) == 1  # the create landed
    assert world.partner_deal(partner_id).get("rep_deal_id") is None  # the link-back did not

    for _ in range(3):
        world.ok_cycle(ctx)

    counterparts = world.rep_deals_for(partner_id)
    assert len(counterparts) == 1
    rep_id = str(counterparts[0]["hs_object_id"])
    assert world.partner_deal(partner_id)["rep_deal_id"] == rep_id
    assert len(world.rep.deals()) == 1
    link = world.store.find_link(PAIR, partner_id)
    assert link is not None
    assert (link.rep_id, link.status) == (rep_id, "active")
    assert world.store.count_links(PAIR) == 1


@pytest.mark.parametrize(
    ("portal", "endpoint"),
    [("rep", "batch_create"), ("partner", "batch_update")],
    ids=["create-answered-5xx", "link-back-answered-5xx"],
)
def test_a_write_that_landed_but_answered_5xx_leaves_one_linked_counterpart(
    world: World, portal: str, endpoint: str
) -> None:
    """HubSpot applied the write but the worker saw a server error (and retried)."""
    partner_id = world.register(dealname="Landed, answered 500")
    ctx = world.context(
        partner=world.connector("partner", retry=FAST_RETRY),
        rep=world.connector("rep", retry=FAST_RETRY),
    )
    faulty = world.sandbox.portal(portal)
    faulty.set_faults(
        FaultSpec(error_rate=1.0, errors_after_write=True, endpoints=frozenset({endpoint}))
    )

    crashed = world.cycle(ctx)
    faulty.set_faults(FaultSpec())
    recovered = [world.ok_cycle(ctx) for _ in range(3)]

    assert crashed.outcome == "failed"
    assert crashed.error_kind == "connector"
    assert f"{endpoint.replace('_', '/')}: HubSpot 5" in (crashed.error or "")
    counterparts = world.rep_deals_for(partner_id)
    assert len(counterparts) == 1
    rep_id = str(counterparts[0]["hs_object_id"])
    assert world.partner_deal(partner_id)["rep_deal_id"] == rep_id
    assert len(world.rep.deals()) == 1
    link = world.store.find_link(PAIR, partner_id)
    assert link is not None
    assert (link.rep_id, link.status) == (rep_id, "active")
    assert world.store.dead_letters(PAIR) == []
    assert all(r.counts.get("created.rep", 0) == 0 for r in recovered)
