"""``POST /webhooks/hubspot/{endpoint}``: HubSpot's deal events, checked, then queued durably.

What a request goes through, in order (each refusal queues nothing):

1. an endpoint without a webhook secret (or unknown) -> **404**: the route is off for it;
2. the body is read up to ``worker.webhook_max_body_bytes`` and no further -> **413** past it
   (a ``Content-Length`` above the cap is refused before reading);
3. signature v3 (:mod:`.signature`) -> **401** when missing, wrong, stale or from the future;
4. the signature already used (a replay; remembered in the state database, so across a
   restart too) -> **401**;
5. not a JSON array -> **400**;
6. the deal events not seen before (by event id) become inbox entries (:mod:`.routing`), the
   sink stores them durably, the event ids are remembered, and the answer is **204**; the
   pairs are woken after that. A store that fails -> **503**: HubSpot retries.

The blocking work (the state database, the sink) runs on a worker thread, so the daemon's
event loop keeps serving ``/metrics`` and ``/healthz``; a delivery is answered in milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

import structlog
from pydantic import SecretStr
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sync_worker.kernel.clock import Clock
from sync_worker.kernel.errors import WebhookRefused
from sync_worker.service.webhooks.counters import WebhookCounters
from sync_worker.service.webhooks.events import DealEvent, parse_body
from sync_worker.service.webhooks.ports import Sink, Wake, WebhookLedger
from sync_worker.service.webhooks.routing import EndpointRoles, route
from sync_worker.service.webhooks.signature import (
    MAX_SKEW,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Refusal,
    SignedRequest,
    check,
)

log = structlog.stdlib.get_logger("sync_worker.service.webhooks")

PATH = "/webhooks/hubspot/{endpoint}"
REMEMBER_FOR = 2 * MAX_SKEW + timedelta(minutes=5)
"""How long signatures and event ids are remembered: past the last moment a request signed now
could pass the timestamp check (its timestamp may lie up to five minutes ahead)."""
FORGET_EVERY_SECONDS = 60.0
UNKNOWN = "unknown"
"""The metrics label of a name that is no webhook endpoint (names from outside stay out of
label values)."""


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    """An endpoint whose route is on: its app's client secret and its roles among the pairs.
    ``portal_id``: when set, events of another HubSpot account are ignored."""

    name: str
    secret: SecretStr
    roles: EndpointRoles
    portal_id: int | None = None


@dataclass(frozen=True, slots=True)
class _Stored:
    """What became of a request's events (the counter's outcomes) and the keys queued."""

    queued: int
    duplicate: int
    ignored: int
    malformed: int
    foreign: int
    keys: list[str]

    def counts(self) -> dict[str, int]:
        return {
            "queued": self.queued,
            "duplicate": self.duplicate,
            "ignored": self.ignored,
            "malformed": self.malformed,
            "foreign": self.foreign,
        }


class WebhookReceiver:
    """The route's handler; :meth:`routes` mounts it (no routes when no endpoint has one)."""

    def __init__(
        self,
        endpoints: Mapping[str, WebhookEndpoint],
        *,
        ledger: WebhookLedger,
        sink: Sink,
        wake: Wake,
        clock: Clock,
        counters: WebhookCounters,
        public_url: str | None = None,
        max_body_bytes: int = 2 * 1024 * 1024,
    ) -> None:
        self._endpoints = dict(endpoints)
        self._ledger = ledger
        self._sink = sink
        self._wake = wake
        self._clock = clock
        self._counters = counters
        self._public_url = public_url.rstrip("/") if public_url else None
        self._max_body = max_body_bytes
        self._next_forget = clock.monotonic()

    def routes(self) -> list[Route]:
        if not self._endpoints:
            return []
        return [Route(PATH, self.receive, methods=["POST"])]

    async def receive(self, request: Request) -> Response:
        endpoint = self._endpoints.get(request.path_params["endpoint"])
        if endpoint is None:
            return self._refused(UNKNOWN, 404, "no webhook route for this endpoint")
        try:
            body = await _read_capped(request, self._max_body)
        except WebhookRefused as refused:
            return self._refused(endpoint.name, refused.status, refused.reason)
        signed = SignedRequest(
            method=request.method,
            uri=self._uri(request),
            body=body,
            signature=request.headers.get(SIGNATURE_HEADER),
            timestamp=request.headers.get(TIMESTAMP_HEADER),
        )
        refusal = check(signed, endpoint.secret, self._clock.now())
        if refusal is not None:
            return self._refused(endpoint.name, 401, refusal.value)
        return await run_in_threadpool(self._accept, endpoint, signed)

    def _accept(self, endpoint: WebhookEndpoint, signed: SignedRequest) -> Response:
        """Everything past the signature check (blocking: on a worker thread)."""
        try:
            stored = self._store(endpoint, signed)
        except WebhookRefused as refused:
            return self._refused(endpoint.name, refused.status, refused.reason)
        except SQLAlchemyError:
            log.exception("webhook_not_queued", endpoint=endpoint.name)
            return self._answer(endpoint.name, 503)
        for outcome, count in stored.counts().items():
            if count:
                self._counters.events.labels(endpoint.name, outcome).inc(count)
        log.debug("webhook_received", endpoint=endpoint.name, **stored.counts(), keys=stored.keys)
        self._wake_pairs(stored.keys)
        return self._answer(endpoint.name, 204)

    def _store(self, endpoint: WebhookEndpoint, signed: SignedRequest) -> _Stored:
        """Claim the signature, queue the events not seen before, remember their ids."""
        now = self._clock.now()
        self._forget_expired()
        expires = now + REMEMBER_FOR
        if not self._ledger.claim_signature(endpoint.name, signed.signature or "", expires):
            raise WebhookRefused(401, Refusal.REPLAYED.value)
        parsed = parse_body(signed.body)
        events, foreign = _own_events(endpoint, parsed.events)
        fresh = self._fresh(endpoint.name, events)
        entries = route(endpoint.name, endpoint.roles, fresh, now)
        if entries:
            self._sink(entries)
        self._ledger.remember_events(endpoint.name, [e.event_id for e in fresh], expires)
        return _Stored(
            queued=len(fresh),
            duplicate=len(events) - len(fresh),
            ignored=parsed.ignored,
            malformed=parsed.malformed,
            foreign=foreign,
            keys=sorted({entry.key for entry in entries}),
        )

    def _fresh(self, name: str, events: Sequence[DealEvent]) -> list[DealEvent]:
        if not events:
            return []
        unseen = self._ledger.unseen_events(name, [e.event_id for e in events])
        return [event for event in events if event.event_id in unseen]

    def _wake_pairs(self, keys: list[str]) -> None:
        if not keys:
            return
        try:
            self._wake(keys)
        except Exception:  # the entries are stored: the next scheduled run takes them anyway
            log.exception("webhook_wake_failed", keys=keys)

    def _forget_expired(self) -> None:
        if self._clock.monotonic() < self._next_forget:
            return
        self._next_forget = self._clock.monotonic() + FORGET_EVERY_SECONDS
        self._ledger.forget_expired(self._clock.now())

    def _uri(self, request: Request) -> str:
        """The URI HubSpot called: the public base URL (a proxy in front) or the request's own
        scheme and host, then the path and query as they arrived."""
        raw_path = request.scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else request.url.path
        query = request.url.query
        base = self._public_url or f"{request.url.scheme}://{request.url.netloc}"
        return f"{base}{path}" + (f"?{query}" if query else "")

    def _refused(self, name: str, status: int, reason: str) -> Response:
        log.warning("webhook_refused", endpoint=name, status=status, reason=reason)
        return self._answer(name, status)

    def _answer(self, name: str, status: int) -> Response:
        self._counters.requests.labels(name, str(status)).inc()
        return Response(status_code=status)


def _own_events(
    endpoint: WebhookEndpoint, events: Sequence[DealEvent]
) -> tuple[list[DealEvent], int]:
    """The events of the endpoint's own portal, and how many were another portal's."""
    if endpoint.portal_id is None:
        return list(events), 0
    own = [e for e in events if e.portal_id in (None, endpoint.portal_id)]
    return own, len(events) - len(own)


async def _read_capped(request: Request, limit: int) -> bytes:
    """The body, read chunk by chunk and refused (413) as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise WebhookRefused(413, f"body larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise WebhookRefused(413, f"body larger than {limit} bytes")
    return bytes(body)
