"""The webhook route over real HTTP: only a fresh, correctly signed, first-seen request of a
configured endpoint reaches the sink; everything else is refused and queues nothing, and the
secret never shows in logs, answers or metrics."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.exc import OperationalError
from structlog.testing import capture_logs

from sync_worker.kernel.clock import to_epoch_ms
from sync_worker.service.webhooks.signature import v3_signature
from tests.webhooks.conftest import (
    MAX_BODY,
    REP_SECRET,
    SECRET,
    Daemon,
    ServeFor,
    change,
    default_endpoints,
    events,
)

BODY = events(change(1, 101))


def test_a_signed_fresh_request_is_queued_then_the_pairs_woken(daemon: Daemon) -> None:
    answer = daemon.post("partner", BODY)

    assert answer.status_code == 204
    assert daemon.recorder.ids() == [("agency-001", "partner", "101")]
    assert daemon.recorder.woken == [["agency-001"]]


def test_a_missing_signature_or_timestamp_is_refused(daemon: Daemon) -> None:
    for missing in ("X-HubSpot-Signature-v3", "X-HubSpot-Request-Timestamp"):
        url = f"{daemon.url}/webhooks/hubspot/partner"
        stamp = str(to_epoch_ms(daemon.clock.now()))
        headers = {
            "X-HubSpot-Signature-v3": "bm90LWNoZWNrZWQ=",
            "X-HubSpot-Request-Timestamp": stamp,
        }
        del headers[missing]
        assert httpx.post(url, content=BODY, headers=headers).status_code == 401
    assert daemon.recorder.entries == []
    assert daemon.recorder.woken == []


@pytest.mark.parametrize(
    "tamper",
    ["another secret", "another body", "another method in the signature", "garbage"],
)
def test_a_wrong_signature_is_refused(daemon: Daemon, tamper: str) -> None:
    url = f"{daemon.url}/webhooks/hubspot/partner"
    stamp = str(to_epoch_ms(daemon.clock.now()))
    secret, method, body = SECRET, "POST", BODY
    if tamper == "another secret":
        secret = REP_SECRET
    elif tamper == "another body":
        body = events(change(1, 999))
    elif tamper == "another method in the signature":
        method = "GET"
    signature = v3_signature(SecretStr(secret), method, url, body, stamp)
    if tamper == "garbage":
        signature = "not base64 at all =="
    headers = {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": stamp}

    answer = httpx.post(url, content=BODY, headers=headers)

    assert answer.status_code == 401
    assert daemon.recorder.entries == []


@pytest.mark.parametrize(
    "offset", [timedelta(minutes=-5, seconds=-1), timedelta(minutes=5, seconds=1)]
)
def test_a_timestamp_more_than_five_minutes_away_is_refused(
    daemon: Daemon, offset: timedelta
) -> None:
    answer = daemon.post("partner", BODY, timestamp=daemon.clock.now() + offset)

    assert answer.status_code == 401
    assert daemon.recorder.entries == []


def test_a_timestamp_just_inside_five_minutes_passes(daemon: Daemon) -> None:
    answer = daemon.post("partner", BODY, timestamp=daemon.clock.now() - timedelta(minutes=4))
    assert answer.status_code == 204


def test_a_timestamp_that_is_no_number_is_refused(daemon: Daemon) -> None:
    answer = daemon.post("partner", BODY, headers={"X-HubSpot-Request-Timestamp": "yesterday"})
    assert answer.status_code == 401
    assert daemon.recorder.entries == []


def test_a_replayed_request_is_refused_and_queues_nothing_more(daemon: Daemon) -> None:
    url = f"{daemon.url}/webhooks/hubspot/partner"
    first = daemon.post("partner", BODY)
    replay = httpx.post(url, content=BODY, headers=_signature_headers(first.request))

    assert first.status_code == 204
    assert replay.status_code == 401
    assert daemon.recorder.ids() == [("agency-001", "partner", "101")]
    assert len(daemon.recorder.woken) == 1


def test_a_replay_is_refused_after_a_restart_too(serve: ServeFor) -> None:
    before = serve()
    first = before.post("partner", BODY)
    after = serve(clock=before.clock)  # a new process on the same state database

    replay = httpx.post(
        f"{after.url}/webhooks/hubspot/partner",
        content=BODY,
        headers=_signature_headers(first.request),
    )

    assert replay.status_code == 401
    assert after.recorder.entries == []


def test_an_event_seen_before_is_not_queued_again(daemon: Daemon) -> None:
    daemon.post("partner", events(change(1, 101)))
    daemon.clock.advance(30)  # HubSpot's retry: a new request (timestamp, attemptNumber)

    again = daemon.post("partner", events({**change(1, 101), "attemptNumber": 1}, change(2, 102)))

    assert again.status_code == 204
    assert daemon.recorder.ids() == [
        ("agency-001", "partner", "101"),
        ("agency-001", "partner", "102"),
    ]
    text = daemon.metrics.render().decode()
    assert 'sync_webhook_events_total{endpoint="partner",outcome="duplicate"} 1.0' in text


def test_an_unknown_endpoint_is_not_found(daemon: Daemon) -> None:
    assert daemon.post("nobody", BODY).status_code == 404
    assert daemon.recorder.entries == []


def test_an_endpoint_without_a_webhook_secret_has_no_route(daemon: Daemon) -> None:
    # partner-2 is a configured endpoint (partner of agency-002) without a webhook secret.
    assert daemon.post("partner-2", BODY).status_code == 404
    assert daemon.recorder.entries == []


def test_no_secret_anywhere_means_no_webhook_route_at_all(serve: ServeFor) -> None:
    daemon = serve(endpoints={})

    assert daemon.post("partner", BODY).status_code == 404
    assert httpx.get(f"{daemon.url}/healthz").status_code == 200  # the rest is served


def test_a_body_over_the_cap_is_refused_before_it_is_read(daemon: Daemon) -> None:
    big = events(*[change(i, 100 + i) for i in range(MAX_BODY // 100)])
    assert len(big) > MAX_BODY

    answer = daemon.post("partner", big)

    assert answer.status_code == 413
    assert daemon.recorder.entries == []


def test_a_chunked_body_is_cut_off_at_the_cap(daemon: Daemon) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"["
        for i in range(1_000):
            yield json.dumps(change(i, 100 + i)).encode() + b","
        yield b"{}]"

    url = f"{daemon.url}/webhooks/hubspot/partner"
    stamp = str(to_epoch_ms(daemon.clock.now()))
    headers = {"X-HubSpot-Signature-v3": "eA==", "X-HubSpot-Request-Timestamp": stamp}
    try:
        answer = httpx.post(url, content=chunks(), headers=headers)
    except httpx.TransportError:  # the server may close before the client finished sending
        answer = None
    assert answer is None or answer.status_code == 413
    assert daemon.recorder.entries == []
    text = daemon.metrics.render().decode()
    assert 'sync_webhook_requests_total{endpoint="partner",status="413"} 1.0' in text


def test_a_signed_body_that_is_no_event_array_is_a_bad_request(daemon: Daemon) -> None:
    for body in (b'{"eventId": 1}', b"not json", b"\xff\xfe"):
        assert daemon.post("partner", body).status_code == 400
    assert daemon.recorder.entries == []


def test_behind_a_proxy_the_public_url_is_what_is_signed(serve: ServeFor) -> None:
    public = "https://sync.example.com/hooks"
    daemon = serve(public_url=public)

    as_called = daemon.post("partner", BODY, uri=f"{public}/webhooks/hubspot/partner")
    as_served = daemon.post("partner", events(change(2, 102)))  # signed over the inner URL

    assert as_called.status_code == 204
    assert as_served.status_code == 401
    assert daemon.recorder.ids() == [("agency-001", "partner", "101")]


def test_a_store_that_fails_answers_503_and_the_retry_is_taken(daemon: Daemon) -> None:
    daemon.recorder.fail = OperationalError("INSERT", {}, Exception("database is locked"))
    with capture_logs() as logs:
        failed = daemon.post("partner", BODY)
    daemon.recorder.fail = None
    daemon.clock.advance(60)
    retried = daemon.post("partner", events({**change(1, 101), "attemptNumber": 1}))

    assert failed.status_code == 503
    assert any(log["event"] == "webhook_not_queued" for log in logs)
    assert retried.status_code == 204
    assert daemon.recorder.ids() == [("agency-001", "partner", "101")]


def test_the_secret_never_appears_in_logs_answers_or_metrics(daemon: Daemon) -> None:
    with capture_logs() as logs:
        answers = [
            daemon.post("partner", BODY),
            daemon.post("partner", BODY, secret="wrong"),
            daemon.post("partner", BODY, timestamp=daemon.clock.now() - timedelta(hours=1)),
            daemon.post("partner", b"[" * (MAX_BODY + 1)),
            daemon.post("partner", b"not json"),
            daemon.post("nobody", BODY),
        ]
    seen = repr(logs) + "".join(repr(a.headers) + a.text for a in answers)
    seen += daemon.metrics.render().decode() + httpx.get(f"{daemon.url}/healthz").text
    assert {a.status_code for a in answers} == {204, 401, 413, 400, 404}
    assert any(log["event"] == "webhook_refused" for log in logs)
    for secret in (SECRET, REP_SECRET):
        assert secret not in seen
        assert secret[:12] not in seen


def _signature_headers(request: httpx.Request) -> dict[str, str]:
    return {
        name: request.headers[name]
        for name in ("X-HubSpot-Signature-v3", "X-HubSpot-Request-Timestamp", "Content-Type")
    }


def test_events_of_another_portal_are_ignored_when_the_portal_is_named(
    serve: ServeFor,
) -> None:
    endpoints = default_endpoints()
    endpoints["partner"] = replace(endpoints["partner"], portal_id=62515)
    daemon = serve(endpoints=endpoints)

    answer = daemon.post("partner", events(change(1, 101), {**change(2, 102), "portalId": 7}))

    assert answer.status_code == 204
    assert daemon.recorder.ids() == [("agency-001", "partner", "101")]
    text = daemon.metrics.render().decode()
    assert 'sync_webhook_events_total{endpoint="partner",outcome="foreign"} 1.0' in text
