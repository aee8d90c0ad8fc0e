"""The connector contract (see :mod:`sync_worker.connectors.base`), run against every backend in
conftest."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sync_worker.connectors.base import ChangePage, Connector, Filter, RecordCreate, RecordUpdate
from sync_worker.kernel.errors import ConfigError
from sync_worker.kernel.filters import Scope
from tests.contract.conftest import Backend

REGISTERED = Filter("hs_num_associated_active_deal_registrations", "GT", "0")
PROPS = ("dealname", "amount", "product_interest")
STAGE = {"dealstage": "appointmentscheduled"}  # HubSpot creates a deal only with a stage


def _deal(n: int, **extra: str) -> dict[str, str]:
    return {
        "dealname": f"Deal {n}",
        "amount": str(100 + n),
        "hs_num_associated_active_deal_registrations": "1",
        **extra,
    }


def _seed(backend: Backend, count: int, *, step: float = 0.001) -> list[str]:
    ids = []
    for n in range(count):
        ids.append(backend.create(_deal(n)))
        backend.clock.advance(step)
    return ids


def _pull(backend: Backend, since: object = None) -> list[ChangePage]:
    """A pull that starts a moment after the edits before it (it reads what was modified
    before it started)."""
    backend.clock.advance(1)
    return list(backend.connector.changes(since, Scope.all_of([REGISTERED]), PROPS))  # type: ignore[arg-type]


def _ids(pages: list[ChangePage]) -> list[str]:
    return [r.id for p in pages for r in p.records]


def test_implements_the_port(backend: Backend) -> None:
    assert isinstance(backend.connector, Connector)
    assert backend.connector.name
    assert backend.connector.api_calls() == 0


def test_pull_yields_every_record_in_scope_once(backend: Backend) -> None:
    ids = _seed(backend, 450)
    outside = backend.create({"dealname": "not registered"})
    archived = backend.create(_deal(999))
    backend.archive(archived)

    pages = _pull(backend)

    assert sorted(_ids(pages)) == sorted(ids)
    assert outside not in _ids(pages)
    # Only the end of the pull moves the cursor: an empty last page carries it, no later than
    # the pull's start (what a resume from it reads again covers the index lag).
    assert all(p.cursor is None for p in pages[:-1])
    assert pages[-1].records == ()
    assert pages[-1].cursor is not None
    assert pages[-1].cursor <= backend.clock.now()
    assert pages[0].total is not None
    assert pages[0].total >= 450


def test_records_carry_raw_properties(backend: Backend) -> None:
    deal_id = backend.create(_deal(7, product_interest="Sales Hub Professional;HubSpot CMS"))

    record = _pull(backend)[0].records[0]

    assert record.id == deal_id
    assert record.properties["dealname"] == "Deal 7"
    assert record.properties["amount"] == "107"
    assert record.properties["product_interest"] == "Sales Hub Professional;HubSpot CMS"
    assert record.archived is False


def test_resuming_from_any_cursor_misses_nothing_after_it(backend: Backend) -> None:
    ids = _seed(backend, 650)
    pages = _pull(backend)
    order = _ids(pages)
    assert len(pages) >= 3

    for index, page in enumerate(pages[:-1]):
        later = set(_ids(pages[index + 1 :]))
        resumed = set(_ids(_pull(backend, page.cursor)))
        assert later <= resumed, f"resuming after page {index} lost records"
    assert set(order) == set(ids)


def test_edits_after_a_cursor_come_back_on_the_next_pull(backend: Backend) -> None:
    ids = _seed(backend, 5)
    cursor = _pull(backend)[-1].cursor
    backend.clock.advance(600)
    backend.edit(ids[2], {"dealname": "renamed"})

    pages = _pull(backend, cursor)

    renamed = [r for p in pages for r in p.records if r.id == ids[2]]
    assert renamed
    assert renamed[-1].properties["dealname"] == "renamed"
    assert cursor is not None
    assert renamed[-1].modified_at > cursor


def test_old_records_are_not_pulled_again(backend: Backend) -> None:
    old = _seed(backend, 3)
    backend.clock.advance(3600)
    cursor = backend.clock.now()
    new = _seed(backend, 2)

    pulled = set(_ids(_pull(backend, cursor)))

    assert set(new) <= pulled
    assert not set(old) & pulled


def test_many_records_in_one_millisecond_are_all_pulled(backend: Backend) -> None:
    ids = _seed(backend, 470, step=0.0)
    later = _seed(backend, 3)

    pulled = _ids(_pull(backend))

    assert set(pulled) == set(ids) | set(later)


def test_records_modified_during_a_pull_are_not_missed(backend: Backend) -> None:
    ids = _seed(backend, 600)
    seen: list[str] = []
    cursor = None
    for number, page in enumerate(
        backend.connector.changes(None, Scope.all_of([REGISTERED]), PROPS)
    ):
        seen.extend(r.id for r in page.records)
        cursor = page.cursor
        if number == 0:
            backend.clock.advance(5)
            for deal_id in ids[190:220]:  # some read already, some not yet
                backend.edit(deal_id, {"dealname": "edited mid-pull"})

    # This pull or the next (from its final cursor) yields every record.
    assert set(seen) | set(_ids(_pull(backend, cursor))) == set(ids)


def test_a_pull_does_not_chase_writes_made_while_it_runs(backend: Backend) -> None:
    ids = _seed(backend, 600)
    backend.clock.advance(1)
    before = backend.connector.api_calls()
    seen: list[str] = []
    for page in backend.connector.changes(None, Scope.all_of([REGISTERED]), PROPS):
        seen.extend(r.id for r in page.records)
        if page.records:  # the worker writes back each page as it goes
            backend.clock.advance(1)
            backend.connector.update([RecordUpdate(r.id, {"amount": "1"}) for r in page.records])

    assert sorted(seen) == sorted(ids)  # each once
    searches = backend.connector.api_calls() - before - 6  # 6 batch updates of 100
    assert searches <= 4


def test_an_idle_pull_costs_one_call_and_yields_nothing(backend: Backend) -> None:
    _seed(backend, 3)
    backend.clock.advance(3600)
    before = backend.connector.api_calls()

    pages = _pull(backend, backend.clock.now())

    assert _ids(pages) == []
    assert backend.connector.api_calls() - before == 1


def test_read_finds_records_and_reports_missing_ones(backend: Backend) -> None:
    ids = _seed(backend, 230)
    backend.archive(ids[0])

    result = backend.connector.read([*ids, "999999"], PROPS)

    assert set(result.found) == set(ids[1:])
    assert set(result.missing) == {ids[0], "999999"}
    assert result.found[ids[5]].properties["dealname"] == "Deal 5"


def test_read_by_unique_property_is_keyed_by_its_value(backend: Backend) -> None:
    deal_id = backend.create(_deal(1, partner_deal_id="P-1"))

    result = backend.connector.read(["P-1", "P-404"], PROPS, id_property="partner_deal_id")

    assert result.found["P-1"].id == deal_id
    assert result.missing == ("P-404",)


def test_read_with_history_reports_when_each_property_changed(backend: Backend) -> None:
    deal_id = backend.create(_deal(1))
    backend.clock.advance(60)
    backend.edit(deal_id, {"amount": "5000"})
    edited_at = backend.clock.now()

    record = backend.connector.read([deal_id], PROPS, with_history=True).found[deal_id]

    assert abs(record.property_timestamps["amount"] - edited_at) < timedelta(milliseconds=1)
    assert record.property_timestamps["dealname"] < record.property_timestamps["amount"]


def test_update_writes_and_the_write_comes_back_as_a_change(backend: Backend) -> None:
    ids = _seed(backend, 250)
    cursor = _pull(backend)[-1].cursor
    backend.clock.advance(600)

    result = backend.connector.update([RecordUpdate(i, {"amount": "42"}) for i in ids])

    assert set(result.written) == set(ids)
    assert result.failed == ()
    assert result.written[ids[0]].properties["amount"] == "42"
    echoed = {r.id: r for p in _pull(backend, cursor) for r in p.records}
    assert set(ids) <= set(echoed)
    assert echoed[ids[0]].properties["amount"] == "42"


def test_update_fails_only_the_bad_records(backend: Backend) -> None:
    good, bad, gone = _seed(backend, 3)
    backend.archive(gone)

    result = backend.connector.update(
        [
            RecordUpdate(good, {"product_interest": "HubSpot CMS"}),
            RecordUpdate(bad, {"product_interest": "Not A Product"}),
            RecordUpdate(gone, {"amount": "1"}),
        ]
    )

    assert set(result.written) == {good}
    failures = {f.id: f for f in result.failed}
    assert set(failures) == {bad, gone}
    assert failures[gone].gone is True
    assert failures[bad].gone is False
    assert "Not A Product" in failures[bad].reason


def test_update_can_clear_a_value(backend: Backend) -> None:
    (deal_id,) = _seed(backend, 1)

    backend.connector.update([RecordUpdate(deal_id, {"amount": ""})])

    assert backend.connector.read([deal_id], PROPS).found[deal_id].get("amount") is None


def test_upsert_is_idempotent_by_unique_property(backend: Backend) -> None:
    create = RecordCreate("P-77", {"dealname": "Shared", "amount": "10", **STAGE})

    first = backend.connector.upsert([create], "partner_deal_id")
    second = backend.connector.upsert([create], "partner_deal_id")

    assert first.written["P-77"].id == second.written["P-77"].id
    found = backend.connector.read(["P-77"], PROPS, id_property="partner_deal_id").found
    assert found["P-77"].properties["dealname"] == "Shared"


def test_upsert_fails_only_the_bad_record(backend: Backend) -> None:
    creates = [RecordCreate(f"P-{n}", {"dealname": f"D{n}", **STAGE}) for n in range(150)]
    creates[70] = RecordCreate("P-70", {"dealname": "x", "product_interest": "Nope", **STAGE})
    creates[71] = RecordCreate("P-71", {"dealname": "no stage"})  # HubSpot requires one

    result = backend.connector.upsert(creates, "partner_deal_id")

    assert len(result.written) == 148
    assert [f.id for f in result.failed] == ["P-70", "P-71"]
    assert "dealstage" in result.failed[1].reason


def test_users_pipelines_and_property_definitions(backend: Backend) -> None:
    users = backend.connector.users()
    pipelines = {p.id: p for p in backend.connector.pipelines()}
    defs = backend.connector.property_definitions()

    assert {u.email for u in users} == {"ann@partner.example", "bob@partner.example"}
    assert "appointmentscheduled" in {s.id for s in pipelines["default"].stages}
    assert defs["partner_deal_id"].unique is True
    assert defs["hs_lastmodifieddate"].read_only is True
    assert "HubSpot CMS" in defs["product_interest"].options


def test_owners_include_deactivated_users_which_users_leaves_out(backend: Backend) -> None:
    owners = {u.email: u for u in backend.connector.owners()}
    refreshed = {u.email: u for u in backend.connector.owners(refresh=True)}

    assert {e: u.active for e, u in owners.items()} == {
        "ann@partner.example": True,
        "bob@partner.example": True,
        "cleo@partner.example": False,
    }
    assert owners["cleo@partner.example"].id == "13"
    assert refreshed == owners
    assert "cleo@partner.example" not in {u.email for u in backend.connector.users()}


def test_read_splits_large_requests_into_batches(backend: Backend) -> None:
    ids = _seed(backend, 250)
    before = backend.connector.api_calls()

    backend.connector.read(ids, PROPS)

    assert backend.connector.api_calls() - before == 3


def test_a_scope_of_more_than_four_filters_is_a_config_error(backend: Backend) -> None:
    with pytest.raises(ConfigError):
        list(backend.connector.changes(None, Scope.all_of([REGISTERED] * 5), PROPS))


LINKED = Filter("partner_deal_id", "HAS_PROPERTY")


def test_filter_groups_are_ored_each_record_once_ascending(backend: Backend) -> None:
    """A pull asks for registered deals OR deals carrying a link (how the worker finds the
    partner counterparts it created, which HubSpot never counts as registered)."""
    registered = _seed(backend, 3)
    linked = [backend.create({"dealname": f"L{n}", "partner_deal_id": f"P-{n}"}) for n in range(3)]
    both = backend.create(_deal(9, partner_deal_id="P-9"))
    backend.create({"dealname": "neither"})
    backend.clock.advance(1)

    scope = Scope(((REGISTERED,), (LINKED,)))
    pages = list(backend.connector.changes(None, scope, PROPS))

    ids = _ids(pages)
    assert sorted(ids) == sorted([*registered, *linked, both])
    assert len(ids) == len(set(ids))
    moments = [r.modified_at for p in pages for r in p.records]
    assert moments == sorted(moments)


@pytest.mark.parametrize(
    "groups",
    [
        [[REGISTERED]] * 6,  # HubSpot allows 5 groups
        [[REGISTERED] * 4] * 4,  # 16 + 2 x 4 of the pull's own > 18 filters
    ],
    ids=["six-groups", "twenty-four-filters"],
)
def test_a_scope_beyond_hubspots_search_limits_is_a_config_error(
    backend: Backend, groups: list[list[Filter]]
) -> None:
    scope = Scope(tuple(tuple(g) for g in groups))
    with pytest.raises(ConfigError):
        list(backend.connector.changes(None, scope, PROPS))
    assert backend.connector.api_calls() == 0
