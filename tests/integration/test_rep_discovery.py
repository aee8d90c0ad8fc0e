"""Rep discovery over the sandbox: five partner portals and one rep portal, the real config,
runtime and ``once`` round. What users fear: the rep CRM searched once per pair again, a rep
edit landing in the wrong partner's portal (or in none), a change lost between discovery and
the pair's cycle, and the worker's own writes bouncing back."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from sync_worker.connectors.base import Connector, ReadResult
from sync_worker.kernel.model import Side
from sync_worker.mappings import builtin_mapping_path
from sync_worker.runtime.config import load_config
from sync_worker.runtime.wiring import runtime_for
from sync_worker.service.rounds import RoundReport, run_round
from sync_worker.state.base import InboxEntry, endpoint_key
from sync_worker.sync.discoverer import DiscoverOptions, Discovery, discover
from sync_worker.sync.discovery import plan_groups
from sync_worker.sync.engine import CycleOptions, Outcome, run_cycle
from tests.integration.programme import (
    REP,
    Programme,
    account,
    pair_name,
    running_programme,
)
from tests.integration.world import WRITE_ENDPOINTS, World, load_default_mapping

P = 5
STORM = 5
"""Webhooks for one deal that land while the worker reads it, in the storm tests."""
ACCOUNT = "shared_partner_account"


@pytest.fixture
def programme(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> Iterator[Programme]:
    with running_programme(tmp_path, P) as made:
        yield made


def once(programme: Programme) -> RoundReport:
    """What ``sync-worker once`` runs: discovery, then a cycle of every pair."""
    with runtime_for(load_config(programme.config)) as runtime:
        report = run_round(runtime, sorted(runtime.pairs))
        enabled = set(runtime.pairs)
    assert [d.failed for d in report.discoveries] == [False]
    assert {c.pair: c.outcome for c in report.cycles} == dict.fromkeys(enabled, Outcome.OK)
    return report


def writes(programme: Programme, portal: str) -> int:
    counters = programme.sandbox.portal(portal).counters
    return sum(sum(counters.get(name, {}).values()) for name in WRITE_ENDPOINTS)


def reset(programme: Programme) -> None:
    for portal in programme.sandbox.portals:
        portal.reset_counters()


@pytest.fixture
def synced(programme: Programme) -> Programme:
    """The programme after its first round: every shared deal has its counterpart."""
    first = once(programme)
    assert all(c.counts.get("created.rep", 0) == 1 for c in first.cycles), first.cycles
    assert all(c.counts.get("created.partner", 0) == 1 for c in first.cycles), first.cycles
    programme.learn_links()
    reset(programme)
    return programme


def test_an_idle_round_searches_the_rep_crm_once_and_the_echo_plans_nothing(
    synced: Programme,
) -> None:
    """The first round wrote to every pair's deals on both sides; the next round finds those
    writes (the rep ones through discovery) and plans nothing: discovery knows them for the
    worker's own and queues none, so no pair reads them again."""
    report = once(synced)
    assert synced.rep_searches() == 1
    (found,) = report.discoveries
    assert found.seen >= P  # the echo did come back, once per pair at least
    assert found.routed == {}
    assert found.unrouted == 0
    assert [writes(synced, p.name) for p in synced.sandbox.portals] == [0] * (P + 1)
    assert all(c.counts.get("fields_changed", 0) == 0 for c in report.cycles)
    reset(synced)
    once(synced)
    assert synced.rep_searches() == 1


def test_a_rep_edit_reaches_only_its_own_pairs_partner(synced: Programme) -> None:
    synced.rep.edit_deal(synced.shared[2][1], {"amount": "7777"})
    report = once(synced)
    assert [k for k in range(P) if synced.partner_amount(k) == "7777"] == [2]
    assert [writes(synced, f"partner-{k}") for k in range(P)] == [0, 0, 1, 0, 0]
    (found,) = report.discoveries
    assert found.routed[pair_name(2)] >= 1  # the others may see the first round's echo


def test_a_partner_edit_still_crosses(synced: Programme) -> None:
    synced.partner(3).edit_deal(synced.shared[3][0], {"amount": "3333"})
    once(synced)
    assert synced.rep_amount(3) == "3333"
    assert writes(synced, REP) == 1


def test_a_rep_deal_typed_with_capitals_reaches_the_pair_its_own_scope_selects(
    synced: Programme,
) -> None:
    """HubSpot compares string values case-insensitively: the pair's own pull (first sync,
    backfill) selects ``AGENCY-004``, so discovery must route it there too."""
    synced.rep.create_deal(
        {
            "dealname": "Typed by hand",
            "dealstage": "appointmentscheduled",
            "shared_partner_account": "AGENCY-004",
        }
    )
    once(synced)
    names = [[d["dealname"] for d in synced.partner(k).deals()] for k in range(P)]
    assert [k for k in range(P) if "Typed by hand" in names[k]] == [4]


def test_ids_queued_before_a_crash_are_synced_after_a_restart(synced: Programme) -> None:
    """Discovery moved its cursor past the edit and queued it; the process died before the
    pair's cycle ran. The inbox is all that remembers the edit: after a restart it lands."""
    synced.rep.edit_deal(synced.shared[1][1], {"amount": "1111"})
    with runtime_for(load_config(synced.config)) as runtime:
        (discovery,) = runtime.discoveries.values()
        report = discover(discovery, runtime.store, runtime.clock, DiscoverOptions("crashed"))
        assert report.routed[pair_name(1)] >= 1
        queued = runtime.store.inbox(pair_name(1), Side.REP, 10)
        assert synced.shared[1][1] in [e.record_id for e in queued]
    # the process is gone: nothing else ran; a new one starts
    once(synced)
    assert synced.partner_amount(1) == "1111"
    with runtime_for(load_config(synced.config)) as runtime:
        assert all(runtime.store.inbox(pair_name(k), Side.REP, 10) == [] for k in range(P))
        rows = runtime.store.status([pair_name(k) for k in range(P)])
    assert [row.inbox for row in rows] == [0] * P


def test_the_first_round_syncs_every_pairs_rep_referral_to_its_own_partner(
    programme: Programme,
) -> None:
    once(programme)
    for k in range(P):
        names = sorted(str(d["dealname"]) for d in programme.partner(k).deals())
        assert names == [f"Referred to {account(k)}", f"Registered by {account(k)}"]


def test_a_rep_edit_made_while_its_pair_was_disabled_lands_when_it_is_enabled_again(
    synced: Programme, clean_env: pytest.MonkeyPatch
) -> None:
    """While a pair is disabled, discovery does not look for its deals (nor route them); the
    pair's own rep cursor stopped when discovery took over. Enabled again, it must still get
    what changed meanwhile."""
    once(synced)  # the first round's echo, then nothing left in any window
    switch = "SYNC_WORKER_PAIRS__PAIR_004__ENABLED"
    clean_env.setenv(switch, "false")
    synced.rep.edit_deal(synced.shared[4][1], {"amount": "4040"})
    once(synced)
    once(synced)
    assert synced.partner_amount(4) == "1000"
    clean_env.delenv(switch)
    once(synced)
    assert synced.partner_amount(4) == "4040"


def test_fifty_long_account_names_still_fit_one_search(world: World) -> None:
    """HubSpot refuses a search body over 3,000 characters. Fifty partners named by a company
    slug do not fit as IN values: the discovery must still run (one pair's long name must not
    stop every pair's rep changes), and route what it finds."""
    accounts = [f"{k:02d}-consulting-partners-of-the-north-atlantic-and-baltic" for k in range(50)]
    contexts = [
        world.context(f"long-{k:02d}", rep=world.connector("rep"), mapping=load_default_mapping(a))
        for k, a in enumerate(accounts)
    ]
    deal_id = world.rep.create_deal(
        {"dealname": "Long", "dealstage": "appointmentscheduled", ACCOUNT: accounts[7]}
    )
    discovery = Discovery("rep", world.connector("rep"), tuple(plan_groups(contexts)))
    report = discover(discovery, world.store, world.clock, DiscoverOptions("test"))
    assert report.error is None
    assert report.routed == {"long-07": 1}
    assert [e.record_id for e in world.store.inbox("long-07", Side.REP, 10)] == [deal_id]


def test_a_pair_whose_rep_scope_cannot_share_the_query_searches_alone_and_syncs(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    """Pair 4 names its account with IN, not EQ: it gets a query of its own (two rep
    searches an idle round), and its rep edits still reach its partner, and only its."""
    text = builtin_mapping_path("hubspot_shared_deals").read_text(encoding="utf-8")
    eq = 'operator = "EQ", value = "{partner_account}"'
    assert eq in text
    mapping = tmp_path / "in-scope.toml"
    mapping.write_text(text.replace(eq, 'operator = "IN", values = ["{partner_account}"]'))
    clean_env.setenv("SYNC_WORKER_PAIRS__PAIR_004__MAPPING", str(mapping))
    with running_programme(tmp_path, P) as programme:
        once(programme)
        programme.learn_links()
        once(programme)  # the echo
        reset(programme)
        once(programme)
        assert programme.rep_searches() == 2
        programme.rep.edit_deal(programme.shared[4][1], {"amount": "4545"})
        programme.rep.edit_deal(programme.shared[0][1], {"amount": "4646"})
        once(programme)
        assert [programme.partner_amount(k) for k in range(P)] == [
            "4646",
            "1000",
            "1000",
            "1000",
            "4545",
        ]


def test_ids_a_webhook_queued_for_the_rep_endpoint_reach_their_pair(synced: Programme) -> None:
    """A rep webhook names a deal, not its pair: discovery reads it and routes it. An id queued
    again while discovery reads it (a stream of webhooks for one deal) waits for the next run
    instead of keeping this one going."""
    rep_id = synced.shared[3][1]
    synced.rep.edit_deal(rep_id, {"amount": "4242"})
    with runtime_for(load_config(synced.config)) as runtime:
        store, clock = runtime.store, runtime.clock
        store.enqueue([InboxEntry(endpoint_key(REP), Side.REP, rep_id, "webhook", clock.now())])
        (discovery,) = runtime.discoveries.values()
        read, reads = discovery.connector.read, []

        def read_while_another_webhook_lands(*args: Any, **kwargs: Any) -> ReadResult:
            reads.append(args)
            if len(reads) <= STORM:  # bounded: a regression fails here instead of hanging
                again = InboxEntry(endpoint_key(REP), Side.REP, rep_id, "webhook", clock.now())
                store.enqueue([again])
            return read(*args, **kwargs)

        connector = SimpleNamespace(
            read=read_while_another_webhook_lands,
            api_calls=discovery.connector.api_calls,
            property_definitions=discovery.connector.property_definitions,
        )
        report = discover(
            Discovery(REP, cast(Connector, connector), discovery.groups),
            store,
            clock,
            DiscoverOptions("test", search=False),
        )
        assert len(reads) == 1
        assert report.routed == {pair_name(3): 1}
        assert [e.record_id for e in store.inbox(endpoint_key(REP), Side.REP, 10)] == [rep_id]
        (queued,) = store.inbox(pair_name(3), Side.REP, 10)
        assert queued.record is not None
        assert queued.record.get("amount") == "4242"
    once(synced)
    assert synced.partner_amount(3) == "4242"


def test_a_stream_of_webhooks_for_one_deal_cannot_keep_a_cycle_going(synced: Programme) -> None:
    """The pair's cycle reads a webhook's id live; the same deal queued again meanwhile waits
    for the next cycle (the cycle ends), and the edit crosses."""
    partner_id = synced.shared[1][0]
    synced.partner(1).edit_deal(partner_id, {"amount": "5150"})
    with runtime_for(load_config(synced.config)) as runtime:
        store, clock, ctx = runtime.store, runtime.clock, runtime.pairs[pair_name(1)]

        def queued() -> InboxEntry:
            return InboxEntry(ctx.name, Side.PARTNER, partner_id, "webhook", clock.now())

        store.enqueue([queued()])
        read, reads = ctx.partner.read, []

        def read_while_another_webhook_lands(*args: Any, **kwargs: Any) -> ReadResult:
            reads.append(args)
            if len(reads) <= STORM:  # bounded: a regression fails here instead of hanging
                store.enqueue([queued()])
            return read(*args, **kwargs)

        stormy = SimpleNamespace(read=read_while_another_webhook_lands)
        partner = cast(Connector, _Delegate(ctx.partner, stormy))
        report = run_cycle(replace(ctx, partner=partner), CycleOptions(inbox_only=True))
        assert report.outcome is Outcome.OK
        assert len(reads) == 1
        assert report.counts.get("inbox_drained") == 1
        assert [e.record_id for e in store.inbox(ctx.name, Side.PARTNER, 10)] == [partner_id]
    assert synced.rep_amount(1) == "5150"


class _Delegate:
    """``inner`` with some attributes replaced."""

    def __init__(self, inner: object, override: object) -> None:
        self._inner, self._override = inner, override

    def __getattr__(self, name: str) -> Any:
        if hasattr(self._override, name):
            return getattr(self._override, name)
        return getattr(self._inner, name)
