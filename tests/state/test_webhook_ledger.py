"""The webhook route's memory of signatures and event ids, on SQLite and PostgreSQL: a replay
is caught once, across a restart, and forgotten only after it expired."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import text

from sync_worker.state import SCHEMA_VERSION, open_store
from sync_worker.state.migrations import read_version
from sync_worker.state.webhook_ledger import SqlWebhookLedger
from tests.state.conftest import T0

LATER = T0 + timedelta(minutes=15)


def test_a_signature_is_claimed_once_per_endpoint_even_after_a_restart(store_url: str) -> None:
    store = open_store(store_url)
    ledger = SqlWebhookLedger(store.engine)
    assert ledger.claim_signature("partner", "c2lnLTE=", LATER)
    assert not ledger.claim_signature("partner", "c2lnLTE=", LATER)
    assert ledger.claim_signature("rep", "c2lnLTE=", LATER)  # another endpoint's memory
    store.close()

    reopened = open_store(store_url)
    try:
        assert not SqlWebhookLedger(reopened.engine).claim_signature("partner", "c2lnLTE=", LATER)
    finally:
        reopened.close()


def test_racing_claims_of_one_signature_have_exactly_one_winner(store_url: str) -> None:
    store = open_store(store_url)
    ledger = SqlWebhookLedger(store.engine)
    wins: list[bool] = []
    lock = threading.Lock()

    def claim() -> None:
        won = ledger.claim_signature("partner", "same", LATER)
        with lock:
            wins.append(won)

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store.close()
    assert sorted(wins) == [False] * 7 + [True]


def test_event_ids_are_remembered_until_they_expire(store_url: str) -> None:
    store = open_store(store_url)
    ledger = SqlWebhookLedger(store.engine)
    try:
        assert ledger.unseen_events("partner", ["1", "2"]) == {"1", "2"}
        ledger.remember_events("partner", ["1", "1"], LATER)
        ledger.remember_events("partner", ["1"], LATER + timedelta(hours=1))  # kept as it was
        assert ledger.unseen_events("partner", ["1", "2"]) == {"2"}
        assert ledger.unseen_events("rep", ["1"]) == {"1"}
        ledger.claim_signature("partner", "sig", T0 + timedelta(minutes=1))

        assert ledger.forget_expired(T0 + timedelta(minutes=5)) == 1  # the signature only
        assert ledger.forget_expired(LATER + timedelta(seconds=1)) == 1
        assert ledger.unseen_events("partner", ["1"]) == {"1"}
        assert ledger.claim_signature("partner", "sig", LATER)
    finally:
        store.close()


def test_a_version_5_database_gains_the_table(store_url: str) -> None:
    store = open_store(store_url)
    with store.engine.begin() as conn:  # what the previous release created
        conn.execute(text("DROP TABLE sw_webhook_seen"))
        conn.execute(text("UPDATE sw_schema_version SET version = 5"))
    store.close()

    upgraded = open_store(store_url)
    try:
        with upgraded.engine.connect() as conn:
            assert read_version(conn) == SCHEMA_VERSION
        assert SqlWebhookLedger(upgraded.engine).claim_signature("p", "s", LATER)
    finally:
        upgraded.close()
