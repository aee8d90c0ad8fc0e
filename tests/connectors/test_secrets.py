"""The token never appears in exception messages, reprs or logs."""

from __future__ import annotations

import traceback
from collections.abc import Iterator

import httpx
import pytest
import respx
from pydantic import SecretStr
from structlog.testing import capture_logs

from sync_worker.connectors.hubspot import BearerAuth, HubSpotConnector, make_hubspot_connector
from sync_worker.kernel.clock import FakeClock
from sync_worker.kernel.errors import AuthError, ConnectorError, DailyLimitReached, TransientError

TOKEN = "pat-na1-deadbeef-0000-1111-2222-333344445555"
BASE = "https://api.hubapi.test"


@pytest.fixture
def connector() -> Iterator[HubSpotConnector]:
    built = make_hubspot_connector(
        name="partner", base_url=BASE, token=SecretStr(TOKEN), tier="free", clock=FakeClock()
    )
    yield built
    built.close()


def everything_about(error: BaseException) -> str:
    return "".join(traceback.format_exception(error)) + repr(error.args)


def test_reprs_hide_the_token(connector: HubSpotConnector) -> None:
    assert TOKEN not in repr(connector)
    assert TOKEN not in repr(BearerAuth(SecretStr(TOKEN)))
    assert TOKEN not in str(vars(connector))


def test_the_token_is_sent_as_a_bearer_header(
    respx_mock: respx.MockRouter, connector: HubSpotConnector
) -> None:
    route = respx_mock.get(f"{BASE}/crm/v3/pipelines/deals").mock(
        return_value=httpx.Response(200, json={"results": []})
    )

    connector.pipelines()

    assert route.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (
            httpx.Response(
                401,
                json={
                    "status": "error",
                    "message": "Authentication credentials not found.",
                    "category": "INVALID_AUTHENTICATION",
                    "correlationId": "c-1",
                },
            ),
            AuthError,
        ),
        (httpx.Response(429, json={"policyName": "DAILY", "message": "daily"}), DailyLimitReached),
        (httpx.ConnectError("connection refused"), TransientError),
        (httpx.ReadTimeout("timed out"), TransientError),
    ],
)
def test_errors_never_carry_the_token(
    respx_mock: respx.MockRouter,
    connector: HubSpotConnector,
    response: httpx.Response | Exception,
    error: type[ConnectorError],
) -> None:
    respx_mock.post(f"{BASE}/crm/v3/objects/deals/batch/read").mock(side_effect=[response] * 6)

    with capture_logs() as logs, pytest.raises(error) as caught:
        connector.read(["1"], ["dealname"])

    assert TOKEN not in everything_about(caught.value)
    assert TOKEN not in repr(logs)
    if error is TransientError:
        assert [e["event"] for e in logs].count("hubspot.retry") == 5


def test_the_daily_refusal_names_the_credential_by_fingerprint_only(
    respx_mock: respx.MockRouter, connector: HubSpotConnector
) -> None:
    respx_mock.post(f"{BASE}/crm/v3/objects/deals/batch/read").mock(
        return_value=httpx.Response(429, json={"policyName": "DAILY", "message": "daily"})
    )
    with capture_logs() as logs, pytest.raises(DailyLimitReached):
        connector.read(["1"], ["dealname"])

    with pytest.raises(DailyLimitReached) as refused:
        connector.read(["1"], ["dealname"])

    assert "api.hubapi.test#" in str(refused.value)
    assert TOKEN not in everything_about(refused.value)
    assert logs
    assert TOKEN not in repr(logs)
