"""Links remember the side a shared deal was created on, and why a pair is out of scope
(contract suite, both backends); a version-2 database gains both columns on upgrade."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import inspect, text

from sync_worker.kernel.model import Side
from sync_worker.state import LinkState, PageCommit, SqlStateStore
from sync_worker.state.base import LinkStatus
from sync_worker.state.migrations import SCHEMA_VERSION, read_version

P = "acme"


def test_a_links_origin_is_kept_when_a_later_page_does_not_know_it(store: SqlStateStore) -> None:
    store.commit_page(P, PageCommit(links=[LinkState("p1", "r1", origin=Side.REP)]))
    store.commit_page(P, PageCommit(links=[LinkState("p1", "r1", base_json="{}")]))

    link = store.find_link(P, "p1")

    assert link is not None
    assert link.origin is Side.REP
    assert link.base_json == "{}"


def test_out_of_scope_links_are_counted_by_status_until_they_sync_again(
    store: SqlStateStore,
) -> None:
    why = "partner deal p1 fails the partner scope filter hs_num_x GT 0"
    store.commit_page(
        P,
        PageCommit(
            links=[
                LinkState("p1", "r1", origin=Side.PARTNER, out_of_scope=why),
                LinkState("p2", "r2", origin=Side.REP),
                LinkState("p3", "r3", status=LinkStatus.GONE, out_of_scope=why),
            ]
        ),
    )
    [row] = store.status([P])
    assert row.out_of_scope == 1
    assert store.find_link(P, "p1").out_of_scope == why  # type: ignore[union-attr]

    store.commit_page(P, PageCommit(links=[LinkState("p1", "r1", base_json="{}")]))

    [row] = store.status([P])
    assert row.out_of_scope == 0


def test_a_version_2_database_gains_origin_and_out_of_scope(
    store: SqlStateStore, open_more: Callable[[], SqlStateStore]
) -> None:
    store.commit_page(P, PageCommit(links=[LinkState("p1", "r1", base_json="{}")]))
    with store.engine.begin() as conn:  # what the previous release created
        conn.execute(text("ALTER TABLE sw_links DROP COLUMN origin"))
        conn.execute(text("ALTER TABLE sw_links DROP COLUMN out_of_scope"))
        conn.execute(text("UPDATE sw_schema_version SET version = 2"))
    store.close()

    upgraded = open_more()

    with upgraded.engine.connect() as conn:
        assert read_version(conn) == SCHEMA_VERSION  # every later step too
        columns = {c["name"] for c in inspect(conn).get_columns("sw_links")}
    assert {"origin", "out_of_scope"} <= columns
    link = upgraded.find_link(P, "p1")
    assert link is not None
    assert (link.origin, link.out_of_scope, link.base_json) == (None, None, "{}")
