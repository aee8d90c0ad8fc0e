"""The HTTP edge: one ``httpx.Client`` per portal, bearer auth, pacing, the one retry policy.

Every request goes through :meth:`HubSpotClient.send`, which wraps a single send in the retry
policy of :mod:`sync_worker.connectors.hubspot.retry`. One attempt = wait for the credential's
limiter, send, let the limiter read the rate headers, classify the status. httpx timeouts and
transport errors become :class:`~sync_worker.kernel.errors.TransientError` here, so nothing
above sees httpx exceptions.
"""

from __future__ import annotations

import email.utils
import json
import threading
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

import httpx
import structlog
from pydantic import SecretStr

from sync_worker.connectors.hubspot.ratelimit import CredentialLimiter, RequestKind
from sync_worker.connectors.hubspot.retry import RetrySettings, make_retrying
from sync_worker.connectors.hubspot.status import classify, parse_body
from sync_worker.kernel.clock import Clock
from sync_worker.kernel.errors import DailyLimitReached, TransientError

__all__ = ["BearerAuth", "HubSpotClient", "HubSpotResponse"]

_log = structlog.get_logger(__name__)

JsonBody = Mapping[str, object]


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer <token>``; the token stays a ``SecretStr`` until the last moment."""

    def __init__(self, token: SecretStr) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        yield request

    def __repr__(self) -> str:
        return "BearerAuth(token=SecretStr('**********'))"


@dataclass(frozen=True, slots=True)
class HubSpotResponse:
    """A successful (2xx) response: its status, its JSON body (``{}`` when empty) and the
    server's clock when it answered (its ``Date`` header, to the second; None without one)."""

    status: int
    body: JsonBody
    date: datetime | None = None


class HubSpotClient:
    """Sends requests to one portal. ``limiter`` may be ``None`` to disable pacing;
    ``account_timezone`` is the portal's time zone, where its daily API budget resets."""

    def __init__(
        self,
        http: httpx.Client,
        *,
        clock: Clock,
        limiter: CredentialLimiter | None = None,
        retry: RetrySettings | None = None,
        account_timezone: tzinfo = UTC,
        endpoint: str = "",
    ) -> None:
        self._http = http
        # Errors name the configured endpoint: "which token was refused" needs no guessing.
        self._where = f"endpoint {endpoint!r}: " if endpoint else ""
        self._account_timezone = account_timezone
        self._clock = clock
        self._limiter = limiter
        self._retry = retry or RetrySettings()
        self._calls = 0
        self._calls_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"HubSpotClient(base_url={str(self._http.base_url)!r})"

    def send(
        self,
        method: str,
        path: str,
        *,
        json: JsonBody | None = None,
        params: Mapping[str, str] | None = None,
        kind: RequestKind = "general",
    ) -> HubSpotResponse:
        """Send with pacing and the retry policy; raise a ``ConnectorError`` on failure."""
        for attempt in make_retrying(self._clock.sleep, self._retry):
            with attempt:
                number = attempt.retry_state.attempt_number
                return self._send_once(
                    method, path, json=json, params=params, kind=kind, attempt=number
                )
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def api_calls(self) -> int:
        """HTTP requests actually sent (retries included, refused-by-limiter excluded)."""
        with self._calls_lock:
            return self._calls

    def close(self) -> None:
        self._http.close()

    def _send_once(
        self,
        method: str,
        path: str,
        *,
        json: JsonBody | None,
        params: Mapping[str, str] | None,
        kind: RequestKind,
        attempt: int = 1,
    ) -> HubSpotResponse:
        ticket = self._limiter.acquire(kind) if self._limiter is not None else None
        with self._calls_lock:
            self._calls += 1
        started = self._clock.monotonic()
        try:
            response = self._http.request(method, path, json=json, params=params)
        except httpx.RequestError as exc:  # transport, timeout, undecodable body, ...
            _log_call(method, path, type(exc).__name__, self._clock.monotonic() - started, attempt)
            raise TransientError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        finally:
            if self._limiter is not None and ticket is not None:
                self._limiter.answered(ticket)
        _log_call(method, path, response.status_code, self._clock.monotonic() - started, attempt)
        if self._limiter is not None:
            self._limiter.observe(response.headers)
            self._limiter.count_status(response.status_code)
        body = parse_body(response.content)
        if (
            response.is_success
            and response.content.strip()
            and not _is_json_object(response.content)
        ):
            # A cut-off or garbled 2xx body must never read as "no results" (a false delete).
            raise TransientError(
                f"{method} {path}: malformed response body ({len(response.content)} bytes)",
                status=response.status_code,
            )
        error = classify(
            response.status_code,
            body,
            response.headers,
            self._clock.now().astimezone(self._account_timezone),  # daily reset: local midnight
            where=f"{self._where}{method} {path}",
        )
        if error is None:
            return HubSpotResponse(response.status_code, body, _server_date(response.headers))
        if isinstance(error, DailyLimitReached) and self._limiter is not None:
            self._limiter.trip_daily(error)
        raise error


def _server_date(headers: httpx.Headers) -> datetime | None:
    raw = headers.get("date")
    if not raw:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo is not None else None


def _log_call(method: str, path: str, status: int | str, seconds: float, attempt: int) -> None:
    """One debug line per HTTP call, for troubleshooting: never headers, tokens or bodies."""
    _log.debug(
        "http_call",
        method=method,
        path=path,
        status=status,
        duration_ms=round(seconds * 1000, 1),
        attempt=attempt,
    )


def _is_json_object(content: bytes) -> bool:
    try:
        return isinstance(json.loads(content), dict)
    except (ValueError, UnicodeDecodeError):
        return False
