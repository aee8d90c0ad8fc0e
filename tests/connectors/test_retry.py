"""The one retry policy around the HTTP send: what it retries, how long it waits, when it stops."""

from __future__ import annotations

import httpx
import pytest
import respx
from pydantic import SecretStr

from sync_worker.connectors.hubspot.client import BearerAuth, HubSpotClient
from sync_worker.connectors.hubspot.retry import RetrySettings
from sync_worker.kernel.clock import FakeClock
from sync_worker.kernel.errors import (
    AuthError,
    DailyLimitReached,
    PermanentError,
    RateLimited,
    TransientError,
)
from tests.connectors.fake_hubspot import error_body

BASE = "https://api.hubapi.test"
URL = f"{BASE}/crm/v3/objects/deals/batch/read"


def client(clock: FakeClock, settings: RetrySettings | None = None) -> HubSpotClient:
    http = httpx.Client(base_url=BASE, auth=BearerAuth(SecretStr("pat-na1-x")))
    return HubSpotClient(http, clock=clock, retry=settings)


def rate_limited(policy: str, **headers: str) -> httpx.Response:
    return httpx.Response(
        429,
        json={"status": "error", "message": "limit", "policyName": policy, "correlationId": "c"},
        headers=headers,
    )


def test_retry_after_is_honoured(respx_mock: respx.MockRouter) -> None:
    clock = FakeClock()
    route = respx_mock.post(URL).mock(
        side_effect=[
            rate_limited("TEN_SECONDLY_ROLLING", **{"Retry-After": "7"}),
            httpx.Response(200, json={"results": []}),
        ]
    )

    response = client(clock).send("POST", "/crm/v3/objects/deals/batch/read", json={})

    assert response.status == 200
    assert clock.sleeps == [7.0]
    assert route.call_count == 2


def test_retry_after_is_capped(respx_mock: respx.MockRouter) -> None:
    clock = FakeClock()
    respx_mock.post(URL).mock(
        side_effect=[
            httpx.Response(
                477, json=error_body("MIGRATION", "moving"), headers={"Retry-After": "86400"}
            ),
            httpx.Response(200, json={}),
        ]
    )

    client(clock, RetrySettings(max_retry_after=60.0)).send(
        "POST", "/crm/v3/objects/deals/batch/read"
    )

    assert clock.sleeps == [60.0]


def test_server_errors_back_off_exponentially_with_jitter(respx_mock: respx.MockRouter) -> None:
    clock = FakeClock()
    respx_mock.post(URL).mock(
        side_effect=[httpx.Response(503)] * 4 + [httpx.Response(200, json={"ok": True})]
    )

    response = client(clock, RetrySettings(multiplier=1.0, jitter=0.5, max_backoff=30.0)).send(
        "POST", "/crm/v3/objects/deals/batch/read"
    )

    assert response.body == {"ok": True}
    assert len(clock.sleeps) == 4
    for attempt, slept in enumerate(clock.sleeps):
        assert 2**attempt <= slept <= 2**attempt + 0.5


def test_backoff_is_bounded_by_max(respx_mock: respx.MockRouter) -> None:
    clock = FakeClock()
    respx_mock.post(URL).mock(side_effect=[httpx.Response(500)] * 5 + [httpx.Response(200)])

    client(clock, RetrySettings(multiplier=10.0, max_backoff=15.0, jitter=1.0)).send("POST", URL)

    assert max(clock.sleeps) <= 15.0


def test_gives_up_after_the_attempts_and_reraises_the_last_error(
    respx_mock: respx.MockRouter,
) -> None:
    clock = FakeClock()
    route = respx_mock.post(URL).mock(return_value=rate_limited("SECONDLY", **{"Retry-After": "1"}))

    with pytest.raises(RateLimited) as caught:
        client(clock, RetrySettings(attempts=4)).send("POST", URL)

    assert route.call_count == 4
    assert caught.value.policy == "SECONDLY"
    assert clock.sleeps == [1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (httpx.Response(400, json=error_body("VALIDATION_ERROR", "bad")), PermanentError),
        (httpx.Response(401, json=error_body("INVALID_AUTHENTICATION", "no")), AuthError),
        (httpx.Response(403, json=error_body("MISSING_SCOPES", "scopes")), AuthError),
        (httpx.Response(409, json=error_body("CONFLICT", "exists")), PermanentError),
        (rate_limited("DAILY"), DailyLimitReached),
    ],
)
def test_never_retries_auth_permanent_or_daily(
    respx_mock: respx.MockRouter, response: httpx.Response, error: type[Exception]
) -> None:
    clock = FakeClock()
    route = respx_mock.post(URL).mock(return_value=response)

    with pytest.raises(error):
        client(clock).send("POST", URL)

    assert route.call_count == 1
    assert clock.sleeps == []


def test_timeouts_and_connection_errors_are_transient_and_retried(
    respx_mock: respx.MockRouter,
) -> None:
    clock = FakeClock()
    respx_mock.post(URL).mock(
        side_effect=[
            httpx.ConnectTimeout("connect timed out"),
            httpx.ConnectError("refused"),
            httpx.Response(200, json={"done": 1}),
        ]
    )
    http_client = client(clock)

    response = http_client.send("POST", URL)

    assert response.body == {"done": 1}
    assert http_client.api_calls() == 3


def test_persistent_transport_failure_surfaces_as_transient(respx_mock: respx.MockRouter) -> None:
    respx_mock.post(URL).mock(side_effect=httpx.ReadTimeout("read timed out"))

    with pytest.raises(TransientError, match="ReadTimeout"):
        client(FakeClock(), RetrySettings(attempts=2)).send("POST", URL)
