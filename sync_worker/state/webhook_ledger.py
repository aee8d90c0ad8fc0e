"""What the webhook route has seen lately, kept in the state database so a restart forgets
nothing while a replay could still pass the timestamp check.

Two kinds of rows per endpoint, each until it expires:

* a request's **signature**: a second request carrying the same signature is a replay (HubSpot
  signs every attempt anew, its timestamp and ``attemptNumber`` differ), refused;
* an **event id**: an event delivered again (HubSpot's retries, its duplicates) is not queued
  twice while it is remembered; later, the inbox's idempotence makes a re-queue harmless.

Claims are ``INSERT ... ON CONFLICT DO NOTHING``, so of two identical requests racing, exactly
one wins on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Connection, Engine, delete, select

from sync_worker.state.connect import READ_ONLY
from sync_worker.state.page import chunks, insert_for
from sync_worker.state.schema import webhook_seen


class SeenKind(StrEnum):
    SIGNATURE = "signature"
    EVENT = "event"


class SqlWebhookLedger:
    """The ``sw_webhook_seen`` table. Thread-safe: each call is a transaction of its own."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def claim_signature(self, endpoint: str, signature: str, expires_at: datetime) -> bool:
        """Record a request's signature; False when it was seen before (a replay)."""
        row = {
            "endpoint": endpoint,
            "kind": SeenKind.SIGNATURE.value,
            "value": signature,
            "expires_at": expires_at,
        }
        with self._engine.begin() as conn:
            # RETURNING, not rowcount: psycopg reports -1 for a single ON CONFLICT insert.
            claim = insert_for(conn, webhook_seen).values(row).on_conflict_do_nothing()
            return conn.execute(claim.returning(webhook_seen.c.value)).first() is not None

    def unseen_events(self, endpoint: str, event_ids: Sequence[str]) -> set[str]:
        """The ids among ``event_ids`` not remembered for ``endpoint``."""
        seen: set[str] = set()
        with self._read() as conn:
            for part in chunks(event_ids):
                seen.update(
                    conn.execute(
                        select(webhook_seen.c.value).where(
                            webhook_seen.c.endpoint == endpoint,
                            webhook_seen.c.kind == SeenKind.EVENT.value,
                            webhook_seen.c.value.in_(part),
                        )
                    ).scalars()
                )
        return set(event_ids) - seen

    def remember_events(
        self, endpoint: str, event_ids: Sequence[str], expires_at: datetime
    ) -> None:
        """Remember ``event_ids`` (already remembered ones keep their expiry)."""
        rows = [
            {
                "endpoint": endpoint,
                "kind": SeenKind.EVENT.value,
                "value": i,
                "expires_at": expires_at,
            }
            for i in dict.fromkeys(event_ids)
        ]
        if not rows:
            return
        with self._engine.begin() as conn:
            conn.execute(insert_for(conn, webhook_seen).on_conflict_do_nothing(), rows)

    def forget_expired(self, now: datetime) -> int:
        """Delete what expired before ``now``; returns how many rows went."""
        with self._engine.begin() as conn:
            result = conn.execute(delete(webhook_seen).where(webhook_seen.c.expires_at < now))
            return int(result.rowcount or 0)

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._engine.connect() as conn:
            conn.execution_options(**{READ_ONLY: True})
            with conn.begin():
                yield conn
