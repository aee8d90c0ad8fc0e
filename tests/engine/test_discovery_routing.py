"""Rep discovery's grouping and routing (pure): which pairs share one query, and which pair a
changed rep deal is queued for. A deal routed to the wrong pair leaks another partner's deal; a
deal routed to none is never synced; one odd deal must never stop the others."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sync_worker.connectors.base import PropertyDef
from sync_worker.kernel.clock import FakeClock
from sync_worker.kernel.filters import Filter
from sync_worker.kernel.model import DealRecord, Side
from sync_worker.mappings import builtin_mapping_path
from sync_worker.rules.mapping import load_mapping
from sync_worker.rules.scope import discovery_scope
from sync_worker.state import open_store
from sync_worker.state.base import StateStore
from sync_worker.sync.context import PairContext
from sync_worker.sync.discovery import IN_VALUES_MAX, Group, plan_groups, route_page
from tests.doubles.memory import DEFAULT_PROPERTIES, InMemoryConnector

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ACCOUNT = "shared_partner_account"
DEFAULT_REP_SCOPE = (
    'rep = [{ property = "shared_partner_account", operator = "EQ", value = "{partner_account}" }]'
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    opened = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    yield opened
    opened.close()


def mapping_file(tmp_path: Path, rep_scope: str | None = None) -> Path:
    """The default mapping, with another rep scope line when ``rep_scope`` is given."""
    text = builtin_mapping_path("hubspot_shared_deals").read_text(encoding="utf-8")
    assert DEFAULT_REP_SCOPE in text
    if rep_scope is not None:
        text = text.replace(DEFAULT_REP_SCOPE, rep_scope)
    path = tmp_path / f"mapping-{abs(hash(rep_scope))}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def pair(
    store: StateStore,
    name: str,
    account: str,
    *,
    rep: str = "rep",
    mapping: Path | None = None,
) -> PairContext:
    clock = FakeClock(T0)
    path = mapping or builtin_mapping_path("hubspot_shared_deals")
    return PairContext(
        name,
        load_mapping(path, context={"partner_account": account}),
        InMemoryConnector(clock, name="partner"),
        InMemoryConnector(clock, name=rep),
        store,
        clock,
        discovered=True,
    )


def pairs(store: StateStore, count: int, *, rep: str = "rep") -> list[PairContext]:
    return [pair(store, f"p{k:04d}", f"agency-{k:04d}", rep=rep) for k in range(count)]


SHAPES = {p.name: p for p in (*DEFAULT_PROPERTIES, PropertyDef(ACCOUNT, "string"))}


def deal(deal_id: str, **props: str | None) -> DealRecord:
    return DealRecord(deal_id, dict(props), T0)


def routed(groups: list[Group], *records: DealRecord) -> tuple[dict[str, list[str]], int]:
    """Which pairs each record was queued for (by record id), and how many went nowhere."""
    result = route_page(groups, list(records), SHAPES, now=T0, source="discovery")
    by_id: dict[str, list[str]] = {}
    for entry in result.entries:
        assert entry.side is Side.REP
        by_id.setdefault(entry.record_id, []).append(entry.key)
    return by_id, result.unrouted


def the_filter(group: Group) -> Filter:
    ((only,),) = group.scope.groups
    return only


# -- grouping --------------------------------------------------------------------------------


def test_pairs_with_the_default_mapping_on_one_endpoint_share_one_query(
    store: StateStore,
) -> None:
    contexts = pairs(store, 5)
    (group,) = plan_groups(contexts)
    assert group.endpoint == "rep"
    assert set(group.pairs) == {c.name for c in contexts}
    assert the_filter(group) == Filter(
        ACCOUNT, "IN", values=tuple(f"agency-{k:04d}" for k in range(5))
    )


def test_up_to_50_accounts_are_sent_as_in_and_more_as_has_property(store: StateStore) -> None:
    (at_limit,) = plan_groups(pairs(store, IN_VALUES_MAX))
    assert the_filter(at_limit).operator == "IN"
    assert len(the_filter(at_limit).values) == IN_VALUES_MAX
    (beyond,) = plan_groups(pairs(store, IN_VALUES_MAX + 1))
    assert the_filter(beyond) == Filter(ACCOUNT, "HAS_PROPERTY")
    # The query shape (and so the group's cursor) does not change with the number of pairs:
    # a programme growing past 50 partners does not rediscover from scratch.
    assert at_limit.key == beyond.key


def test_an_account_with_capitals_is_not_sent_as_an_in_value(store: StateStore) -> None:
    """HubSpot wants string IN values lowercase: the shared query falls back to HAS_PROPERTY,
    and routing still finds the pair."""
    contexts = [*pairs(store, 2), pair(store, "big", "Agency-BIG")]
    (group,) = plan_groups(contexts)
    assert the_filter(group) == Filter(ACCOUNT, "HAS_PROPERTY")
    by_id, unrouted = routed([group], deal("1", **{ACCOUNT: "Agency-BIG"}))
    assert by_id == {"1": ["big"]}
    assert unrouted == 0


def test_pairs_on_two_rep_endpoints_get_a_group_each(store: StateStore) -> None:
    contexts = pairs(store, 3, rep="rep-eu") + [
        pair(store, f"us{k}", f"agency-us{k}", rep="rep-us") for k in range(2)
    ]
    groups = plan_groups(contexts)
    assert sorted(g.endpoint for g in groups) == ["rep-eu", "rep-us"]
    by_endpoint = {g.endpoint: set(g.pairs) for g in groups}
    assert by_endpoint["rep-us"] == {"us0", "us1"}
    assert len({g.key for g in groups}) == 2


def test_a_pair_without_a_routing_filter_gets_a_group_of_its_own_and_is_routed(
    store: StateStore, tmp_path: Path
) -> None:
    odd = mapping_file(tmp_path, 'rep = [{ property = "amount", operator = "GT", value = "0" }]')
    contexts = [*pairs(store, 3), pair(store, "odd", "agency-odd", mapping=odd)]
    groups = plan_groups(contexts)
    assert sorted(len(g.pairs) for g in groups) == [1, 3]
    (alone,) = [g for g in groups if g.pairs == ("odd",)]
    (odd_ctx,) = [c for c in contexts if c.name == "odd"]
    assert alone.scope == discovery_scope(odd_ctx.mapping, Side.REP)
    by_id, unrouted = routed(
        groups,
        deal("1", amount="10"),
        deal("2", amount="10", **{ACCOUNT: "agency-0001"}),
        deal("3", amount="0"),
    )
    assert by_id == {"1": ["odd"], "2": ["odd", "p0001"]}
    assert unrouted == 1


def test_pairs_whose_scopes_differ_in_more_than_the_account_do_not_share_a_query(
    store: StateStore, tmp_path: Path
) -> None:
    won = mapping_file(
        tmp_path,
        'rep = [{ property = "shared_partner_account", operator = "EQ", value = '
        '"{partner_account}" }, { property = "amount", operator = "GT", value = "1000" }]',
    )
    contexts = [*pairs(store, 2), pair(store, "big", "agency-big", mapping=won)]
    groups = plan_groups(contexts)
    assert sorted(g.pairs for g in groups) == [("big",), ("p0000", "p0001")]
    by_id, _ = routed(
        groups,
        deal("1", amount="5", **{ACCOUNT: "agency-big"}),
        deal("2", amount="5000", **{ACCOUNT: "agency-big"}),
    )
    assert by_id == {"2": ["big"]}


# -- routing ---------------------------------------------------------------------------------


def test_a_deal_is_queued_only_for_the_pair_whose_account_it_holds(store: StateStore) -> None:
    (group,) = plan_groups(pairs(store, 5))
    by_id, unrouted = routed(
        [group],
        deal("10", **{ACCOUNT: "agency-0003"}),
        deal("11", **{ACCOUNT: "agency-0000"}),
    )
    assert by_id == {"10": ["p0003"], "11": ["p0000"]}
    assert unrouted == 0


def test_a_deal_of_an_account_with_no_pair_or_no_account_is_unrouted_and_stops_nothing(
    store: StateStore,
) -> None:
    (group,) = plan_groups(pairs(store, IN_VALUES_MAX + 1))  # HAS_PROPERTY: any account
    by_id, unrouted = routed(
        [group],
        deal("1", **{ACCOUNT: "agency-9999"}),  # a partner this worker does not serve
        deal("2", **{ACCOUNT: None}),
        deal("3", **{ACCOUNT: ""}),
        deal("4"),
        deal("5", **{ACCOUNT: "agency-0002;agency-0003"}),
        deal("6", **{ACCOUNT: "agency-0002"}),
    )
    assert by_id == {"6": ["p0002"]}
    assert unrouted == 5


def test_routing_agrees_with_the_pairs_own_scope_on_case(store: StateStore) -> None:
    """The pair's own pull (first sync, backfill) selects ``AGENCY-0001`` (a string EQ is
    case-insensitive, in HubSpot and here): discovery must queue it for the same pair, and a
    value the scope does not select (padding) for none."""
    contexts = pairs(store, 3)
    (group,) = plan_groups(contexts)
    odd = deal("1", **{ACCOUNT: "AGENCY-0001"})
    padded = deal("2", **{ACCOUNT: " agency-0001 "})
    for record in (odd, padded):
        own = [
            c.name
            for c in contexts
            if group.route.scopes[c.name].selects(record.properties, SHAPES)
        ]
        by_id, _ = routed([group], record)
        assert by_id.get(record.id, []) == own


def test_pairs_share_one_query_when_another_eq_filter_comes_before_the_account(
    store: StateStore, tmp_path: Path
) -> None:
    """A rep scope that also keeps to one pipeline (named first) still differs between pairs
    only in the account: the pairs must share one query, not search once each."""
    pipeline_first = mapping_file(
        tmp_path,
        'rep = [{ property = "pipeline", operator = "EQ", value = "default" }, '
        '{ property = "shared_partner_account", operator = "EQ", value = "{partner_account}" }]',
    )
    contexts = [pair(store, f"p{k}", f"agency-{k}", mapping=pipeline_first) for k in range(4)]
    (group,) = plan_groups(contexts)
    assert set(group.pairs) == {"p0", "p1", "p2", "p3"}
    by_id, unrouted = routed(
        [group],
        deal("1", pipeline="default", **{ACCOUNT: "agency-2"}),
        deal("2", pipeline="other", **{ACCOUNT: "agency-2"}),
    )
    assert by_id == {"1": ["p2"]}
    assert unrouted == 1
