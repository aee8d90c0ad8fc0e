"""The status -> error table, tested as a table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from sync_worker.connectors.hubspot.status import (
    classify,
    parse_body,
    parse_retry_after,
)
from sync_worker.kernel.errors import (
    AuthError,
    ConnectorError,
    DailyLimitReached,
    PermanentError,
    RateLimited,
    RetryAfterError,
    TransientError,
)

NOW = datetime(2026, 3, 1, 15, 30, tzinfo=UTC)
CID = "a43683b0-5717-4ceb-80b4-104d02915d8c"


def body(category: str = "", message: str = "boom", **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"status": "error", "message": message, "correlationId": CID, **extra}
    if category:
        out["category"] = category
    return out


def limit(policy: str, message: str = "You have reached your limit.") -> dict[str, Any]:
    return {
        "status": "error",
        "message": message,
        "errorType": "RATE_LIMIT",
        "correlationId": CID,
        "policyName": policy,
    }


TABLE: list[
    tuple[int, dict[str, Any], dict[str, str], type[ConnectorError] | None, float | None]
] = [
    # status, body, headers, expected type, expected retry_after
    (200, {}, {}, None, None),
    (207, {"status": "COMPLETE"}, {}, None, None),
    (204, {}, {}, None, None),
    (
        301,
        {},
        {"Location": "https://api.hubapi.com/crm/v3/objects/deals/search"},
        PermanentError,
        None,
    ),
    (302, {}, {}, PermanentError, None),
    (304, {}, {}, PermanentError, None),
    (400, body("VALIDATION_ERROR", "Property values were not valid"), {}, PermanentError, None),
    (401, body("INVALID_AUTHENTICATION"), {}, AuthError, None),
    (
        403,
        body("MISSING_SCOPES", "This app hasn't been granted all required scopes"),
        {},
        AuthError,
        None,
    ),
    (403, body("FORBIDDEN"), {}, PermanentError, None),
    (
        404,
        body("OBJECT_NOT_FOUND", "Object not found.  objectId are usually numeric."),
        {},
        PermanentError,
        None,
    ),
    (409, body("CONFLICT", "Deal already exists. Existing ID: 123"), {}, PermanentError, None),
    (414, {}, {}, PermanentError, None),
    (418, {}, {}, PermanentError, None),
    (423, body("LOCKED"), {}, RetryAfterError, 2.0),
    (423, body("LOCKED"), {"Retry-After": "5"}, RetryAfterError, 5.0),
    (423, body("LOCKED"), {"Retry-After": "0"}, RetryAfterError, 2.0),
    (429, limit("DAILY", "You have reached your daily limit."), {}, DailyLimitReached, None),
    (429, limit("TEN_SECONDLY_ROLLING"), {"Retry-After": "3"}, RateLimited, 3.0),
    (
        429,
        limit("TEN_SECONDLY_ROLLING"),
        {"X-HubSpot-RateLimit-Interval-Milliseconds": "10000"},
        RateLimited,
        10.0,
    ),
    (429, limit("TEN_SECONDLY_ROLLING"), {}, RateLimited, 10.0),
    (429, limit("SECONDLY", "You have reached your secondly limit."), {}, RateLimited, 1.0),
    (429, {}, {}, RateLimited, 10.0),
    (477, body("MIGRATION_IN_PROGRESS"), {"Retry-After": "30"}, RetryAfterError, 30.0),
    (500, body(), {}, TransientError, None),
    (502, {}, {}, TransientError, None),
    (503, {}, {}, TransientError, None),
    (504, {}, {}, TransientError, None),
    (521, {}, {}, TransientError, None),
    (522, {}, {}, PermanentError, None),
    (523, {}, {}, TransientError, None),
    (524, {}, {}, TransientError, None),
    (525, {}, {}, PermanentError, None),
    (526, {}, {}, PermanentError, None),
]


@pytest.mark.parametrize(("status", "payload", "headers", "expected", "retry_after"), TABLE)
def test_status_table(
    status: int,
    payload: dict[str, Any],
    headers: dict[str, str],
    expected: type[ConnectorError] | None,
    retry_after: float | None,
) -> None:
    error = classify(status, payload, httpx.Headers(headers), NOW)

    if expected is None:
        assert error is None
        return
    assert type(error) is expected
    assert error is not None
    assert error.status == status
    if retry_after is not None:
        assert getattr(error, "retry_after", None) == retry_after


def test_a_redirect_names_where_it_points_and_the_setting_to_fix() -> None:
    headers = httpx.Headers({"Location": "https://api.hubapi.com/crm/v3/objects/deals/search"})
    error = classify(301, {}, headers, NOW, where="POST /crm/v3/objects/deals/search")
    assert str(error) == (
        "POST /crm/v3/objects/deals/search: HubSpot answered 301, a redirect to "
        "https://api.hubapi.com/crm/v3/objects/deals/search: the endpoint's base_url must be "
        "the API's own address (https://api.hubapi.com)"
    )


def test_message_is_built_from_the_body_only() -> None:
    headers = httpx.Headers({"Authorization": "Bearer pat-na1-secret", "X-Request": "r"})
    error = classify(400, body("VALIDATION_ERROR", "amount was not a valid number"), headers, NOW)

    assert str(error) == (
        f"HubSpot 400: VALIDATION_ERROR: amount was not a valid number (correlationId {CID})"
    )
    assert error is not None
    assert error.category == "VALIDATION_ERROR"
    assert error.correlation_id == CID


def test_daily_limit_resets_at_next_midnight_utc_unless_told_otherwise() -> None:
    default = classify(429, limit("DAILY"), httpx.Headers({}), NOW)
    told = classify(429, limit("DAILY"), httpx.Headers({"Retry-After": "600"}), NOW)

    assert isinstance(default, DailyLimitReached)
    assert default.resets_at == datetime(2026, 3, 2, tzinfo=UTC)
    assert isinstance(told, DailyLimitReached)
    assert told.resets_at == NOW + timedelta(seconds=600)


def test_daily_limit_resets_at_midnight_in_the_time_zone_of_now() -> None:
    pacific = NOW.astimezone(ZoneInfo("America/Los_Angeles"))  # 07:30 local, 1 March

    error = classify(429, limit("DAILY"), httpx.Headers({}), pacific)

    assert isinstance(error, DailyLimitReached)
    assert error.resets_at == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # PST midnight
    assert "daily API limit is spent until 2026-03-02 00:00 PST (08:00 UTC)" in str(error)


def test_rate_limit_records_the_policy() -> None:
    error = classify(429, limit("SECONDLY"), httpx.Headers({}), NOW)

    assert isinstance(error, RateLimited)
    assert error.policy == "SECONDLY"


@pytest.mark.parametrize(
    "content", [b"", b"<html>502 Bad Gateway</html>", b"[1, 2]", b'{"message": ', b"\xff\xfe"]
)
def test_malformed_bodies_are_tolerated(content: bytes) -> None:
    parsed = parse_body(content)
    error = classify(502, parsed, httpx.Headers({}), NOW)

    assert parsed == {}
    assert isinstance(error, TransientError)
    assert str(error) == "HubSpot 502: no error message"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("7", 7.0),
        ("1.5", 1.5),
        ("\u00b9", None),
        ("soon", None),
        ("Sun, 01 Mar 2026 15:30:20 GMT", 20.0),
        ("Sun, 01 Mar 2026 15:00:00 GMT", 0.0),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


def test_a_validation_error_names_its_properties_in_either_documented_shape() -> None:
    listed = (
        'Property values were not valid: [{"isValid":false,"message":"reports was not one of '
        'the allowed options: [PRODUCT_ISSUE]","error":"INVALID_OPTION",'
        '"name":"hs_ticket_category","localizedErrorMessage":"..."}]'
    )
    from_message = body("VALIDATION_ERROR", listed)
    from_errors = body(
        "VALIDATION_ERROR",
        "discount was not a valid number",
        errors=[
            {
                "message": "discount was not a valid number",
                "code": "INVALID_INTEGER",
                "context": {"propertyName": ["discount"]},
            }
        ],
    )
    both = {**from_message, "errors": [{"context": {"propertyName": ["hs_ticket_category"]}}]}
    garbled = body("VALIDATION_ERROR", "Property values were not valid: [{oops")
    headers = httpx.Headers({})
    names = [
        getattr(classify(400, b, headers, NOW), "properties", None)
        for b in (from_message, from_errors, both, garbled)
    ]
    assert names == [("hs_ticket_category",), ("discount",), ("hs_ticket_category",), ()]
    not_validation = classify(404, body("OBJECT_NOT_FOUND", listed), headers, NOW)
    assert not_validation is not None
    assert not_validation.properties == ()
