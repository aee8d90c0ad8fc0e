"""The rate budgets' tables arrive with schema version 7 (see ``tests/contract`` for the budget
itself); a database of the previous release (version 3) walks every step to them."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import inspect, text

from sync_worker.state import SqlStateStore
from sync_worker.state.migrations import SCHEMA_VERSION, read_version

TABLES = {"sw_rate_budgets", "sw_rate_grants"}
SINCE_VERSION_3 = {*TABLES, "sw_inbox", "sw_replicas", "sw_webhook_seen"}


def test_a_version_3_database_gains_the_rate_budget_tables(
    store: SqlStateStore, open_more: Callable[[], SqlStateStore]
) -> None:
    with store.engine.begin() as conn:  # what the previous release created
        for table in sorted(SINCE_VERSION_3, reverse=True):
            conn.execute(text(f"DROP TABLE {table}"))
        conn.execute(text("UPDATE sw_schema_version SET version = 3"))
    store.close()

    upgraded = open_more()

    with upgraded.engine.connect() as conn:
        assert read_version(conn) == SCHEMA_VERSION == 7
        assert set(inspect(conn).get_table_names()) >= SINCE_VERSION_3
        indexes = {i["name"] for i in inspect(conn).get_indexes("sw_rate_grants")}
    assert "sw_rate_grants_window" in indexes
