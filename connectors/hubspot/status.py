"""HubSpot HTTP status -> the project's error tree: one pure function, tested as a table.

``classify(status, body, headers, now)`` returns ``None`` for a success and a
:class:`~sync_worker.kernel.errors.ConnectorError` for everything else. Messages are built from
HubSpot's
error body only (category, message, correlationId) and never from request headers, so a token
cannot leak through an exception.

Daily limit caveat: HubSpot resets the daily budget at midnight in the *account's* time zone.
Without a ``Retry-After`` saying otherwise, ``resets_at`` is the next midnight in the time zone
of the ``now`` passed in: the client passes ``now`` in the account's zone when it was configured
(``account_timezone``), else UTC, in which case the real reset may be up to 14 hours earlier or
12 hours later.
"""

from __future__ import annotations

import email.utils
import json
from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta

from sync_worker.kernel.errors import (
    AuthError,
    ConnectorError,
    DailyLimitReached,
    PermanentError,
    RateLimited,
    RetryAfterError,
    TransientError,
)

__all__ = ["classify", "parse_body", "parse_retry_after"]

LOCKED_WAIT_S = 2.0
"""HubSpot: "Locks will last for 2 seconds" (423)."""

POLICY_DEFAULT_WAIT_S: Mapping[str, float] = {
    "TEN_SECONDLY_ROLLING": 10.0,
    "SECONDLY": 1.0,
}
UNKNOWN_POLICY_WAIT_S = 10.0

# 521/523/524: Cloudflare-side timeouts HubSpot tells clients to retry; 522/525/526 -> support.
PERMANENT_5XX = frozenset({522, 525, 526})


def parse_body(content: bytes) -> Mapping[str, object]:
    """HubSpot's JSON body as a mapping; anything else (HTML, empty, a list) becomes ``{}``."""
    try:
        parsed = json.loads(content) if content else {}
    except (ValueError, UnicodeDecodeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` in seconds: delta-seconds or an HTTP-date; ``None`` when absent/garbled."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.replace(".", "", 1).isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - now).total_seconds())


def _text(body: Mapping[str, object], key: str) -> str | None:
    value = body.get(key)
    return value if isinstance(value, str) and value else None


def _message(status: int, body: Mapping[str, object], where: str) -> str:
    parts = [f"{where}: HubSpot {status}" if where else f"HubSpot {status}"]
    category = _text(body, "category") or _text(body, "errorType")
    if category:
        parts.append(category)
    parts.append(_text(body, "message") or "no error message")
    correlation = _text(body, "correlationId")
    text = ": ".join(parts)
    return f"{text} (correlationId {correlation})" if correlation else text


def _header_float(headers: Mapping[str, str], name: str) -> float | None:
    raw = headers.get(name)
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


def _next_midnight(now: datetime) -> datetime:
    """The next midnight in ``now``'s own time zone (kept in that zone, so that it reads as the
    account's local time)."""
    return datetime.combine(now.date() + timedelta(days=1), time(0), tzinfo=now.tzinfo)


def local_time(moment: datetime) -> str:
    """``2026-12-06 00:00 CET (23:00 UTC)``: a moment in its own zone, and in UTC."""
    utc = moment.astimezone(UTC)
    if moment.utcoffset() == timedelta(0):
        return f"{utc:%Y-%m-%d %H:%M} UTC"
    return f"{moment:%Y-%m-%d %H:%M} {moment.tzname()} ({utc:%H:%M} UTC)"


def _rate_limited(
    body: Mapping[str, object], headers: Mapping[str, str], now: datetime, where: str
) -> ConnectorError:
    policy = _text(body, "policyName") or "UNKNOWN"
    message = _message(429, body, where)
    correlation = _text(body, "correlationId")
    retry_after = parse_retry_after(headers.get("retry-after"), now)
    if policy == "DAILY":
        after = now + timedelta(seconds=retry_after) if retry_after else None
        resets_at = after or _next_midnight(now)
        return DailyLimitReached(
            f"{message}; the account's daily API limit is spent until {local_time(resets_at)}",
            resets_at=resets_at,
            correlation_id=correlation,
        )
    if retry_after is None:
        interval_ms = _header_float(headers, "x-hubspot-ratelimit-interval-milliseconds")
        fallback = POLICY_DEFAULT_WAIT_S.get(policy, UNKNOWN_POLICY_WAIT_S)
        retry_after = interval_ms / 1000 if interval_ms else fallback
    return RateLimited(message, retry_after=retry_after, policy=policy, correlation_id=correlation)


def classify(
    status: int,
    body: Mapping[str, object],
    headers: Mapping[str, str],
    now: datetime,
    *,
    where: str = "",
) -> ConnectorError | None:
    """The error a response stands for, or ``None`` for 2xx (1xx and 3xx are errors: a
    redirect followed silently could turn a search into "no changes"). ``headers`` must be
    case-insensitive (``httpx.Headers``) or lower-cased; ``where`` (e.g. ``"POST /path"``)
    prefixes the message."""
    if 200 <= status < 300:
        return None
    if status < 400:  # httpx follows no redirects: a 3xx means base_url points elsewhere
        location = headers.get("location")
        where_to = f" to {location}" if location else ""
        message = (
            f"{where + ': ' if where else ''}HubSpot answered {status}, a redirect{where_to}: "
            "the endpoint's base_url must be the API's own address (https://api.hubapi.com)"
        )
        return PermanentError(message, status=status)
    if status == 429:
        return _rate_limited(body, headers, now, where)
    message = _message(status, body, where)
    category = _text(body, "category")
    correlation = _text(body, "correlationId")
    if status == 401 or (status == 403 and category == "MISSING_SCOPES"):
        return AuthError(message, status=status, category=category, correlation_id=correlation)
    if status in (423, 477):
        floor = LOCKED_WAIT_S if status == 423 else 1.0
        wait = max(parse_retry_after(headers.get("retry-after"), now) or floor, floor)
        return RetryAfterError(
            message, retry_after=wait, status=status, category=category, correlation_id=correlation
        )
    kind = TransientError if status >= 500 and status not in PERMANENT_5XX else PermanentError
    return kind(
        message,
        status=status,
        category=category,
        correlation_id=correlation,
        properties=invalid_properties(body) if status == 400 else (),
    )


def invalid_properties(body: Mapping[str, object]) -> tuple[str, ...]:
    """The properties a validation error names: ``errors[].context.propertyName`` and the
    ``name`` of each entry in the JSON list HubSpot embeds in "Property values were not valid:
    [...]" (both shapes are documented; either may be missing)."""
    names: list[str] = []
    errors = body.get("errors")
    for error in errors if isinstance(errors, list) else []:
        context = error.get("context") if isinstance(error, dict) else None
        listed = context.get("propertyName") if isinstance(context, dict) else None
        names += [n for n in listed if isinstance(n, str)] if isinstance(listed, list) else []
    message = _text(body, "message") or ""
    _, marker, rest = message.partition(_INVALID_VALUES)
    if marker:
        try:
            entries = json.loads(rest)
        except ValueError:
            entries = []
        for entry in entries if isinstance(entries, list) else []:
            name = entry.get("name") if isinstance(entry, dict) else None
            if isinstance(name, str):
                names.append(name)
    return tuple(dict.fromkeys(names))


_INVALID_VALUES = "Property values were not valid: "
