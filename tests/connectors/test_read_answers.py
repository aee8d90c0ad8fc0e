"""A read reports a deal missing only when HubSpot says so: a garbled or partial answer must
never look like a delete (the engine would unlink the pair for good)."""

from __future__ import annotations

import json

import httpx
import pytest
from pydantic import SecretStr

from sync_worker.connectors.hubspot import make_hubspot_connector
from sync_worker.connectors.hubspot.adapter import HubSpotConnector
from sync_worker.connectors.hubspot.retry import RetrySettings
from sync_worker.kernel.clock import FakeClock
from sync_worker.kernel.errors import PermanentError, TransientError
from sync_worker.kernel.filters import Scope

DEAL = {
    "id": "1",
    "properties": {"dealname": "A", "hs_lastmodifieddate": "2026-01-01T00:00:00.000Z"},
    "createdAt": "2026-01-01T00:00:00.000Z",
    "updatedAt": "2026-01-01T00:00:00.000Z",
    "archived": False,
}


def connector(answer: httpx.MockTransport) -> HubSpotConnector:
    return make_hubspot_connector(
        name="p",
        base_url="https://api.hubapi.test",
        token=SecretStr("pat-na1-test-0000"),
        tier="unlimited",
        clock=FakeClock(),
        transport=answer,
        retry=RetrySettings(attempts=2, multiplier=0.01, max_backoff=0.01, jitter=0),
    )


def test_ids_hubspot_reports_not_found_are_missing() -> None:
    error = {"status": "error", "category": "OBJECT_NOT_FOUND", "context": {"ids": ["2"]}}
    body = {"status": "COMPLETE", "results": [DEAL], "errors": [error]}
    conn = connector(httpx.MockTransport(lambda _: httpx.Response(207, json=body)))
    result = conn.read(["1", "2"], ["dealname"])
    assert set(result.found) == {"1"}
    assert result.missing == ("2",)


def test_an_id_answered_neither_way_is_an_error_not_a_delete() -> None:
    body = {"status": "COMPLETE", "results": [DEAL]}
    conn = connector(httpx.MockTransport(lambda _: httpx.Response(200, json=body)))
    with pytest.raises(TransientError, match="neither a record nor an error for 1 of 2 ids"):
        conn.read(["1", "2"], ["dealname"])


def test_a_cut_off_body_is_retried_then_an_error() -> None:
    full = json.dumps({"status": "COMPLETE", "results": [DEAL]}).encode()
    calls: list[int] = []

    def answer(_: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(200, content=full[: len(full) // 2])

    conn = connector(httpx.MockTransport(answer))
    with pytest.raises(TransientError, match="malformed response body"):
        conn.read(["1"], ["dealname"])
    assert len(calls) == 2  # the one retry policy tried again


def test_a_cut_off_body_then_a_good_one_succeeds() -> None:
    full = json.dumps({"status": "COMPLETE", "results": [DEAL]}).encode()
    answers = iter([httpx.Response(200, content=full[:20]), httpx.Response(200, content=full)])
    conn = connector(httpx.MockTransport(lambda _: next(answers)))
    assert set(conn.read(["1"], ["dealname"]).found) == {"1"}


def test_a_redirected_search_is_an_error_not_an_empty_pull() -> None:
    """A base_url on http:// or behind a redirecting proxy answers 301 with an HTML page: the
    pull must fail loudly, never report "no changes" cycle after cycle."""
    moved = httpx.Response(
        301,
        headers={"Location": "https://api.hubapi.com/crm/v3/objects/deals/search"},
        content=b"<html><body>Moved Permanently</body></html>",
    )
    conn = connector(httpx.MockTransport(lambda _: moved))
    with pytest.raises(PermanentError, match=r"a redirect to https://api\.hubapi\.com"):
        list(conn.changes(None, Scope(), ["dealname"]))
    with pytest.raises(PermanentError, match="base_url"):
        conn.property_definitions()


def test_an_undecodable_body_is_retried_as_transient() -> None:
    calls: list[int] = []

    def answer(_: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=b"not gzip")

    conn = connector(httpx.MockTransport(answer))
    with pytest.raises(TransientError, match="DecodingError"):
        conn.read(["1"], ["dealname"])
    assert len(calls) == 2  # every attempt the retry policy allows
