"""Delivering a portal's webhook events as HubSpot does (reference §8), off the API's path.

The deal store hands each change to :meth:`WebhookDelivery.observe` (a list append under a
short lock); one background thread turns changes into events, gathers them into batches and
gives each batch to a pool of senders. Nothing here ever holds up an API request.

* **Signed v3**: ``X-HubSpot-Signature-v3`` = base64(HMAC-SHA256(client secret, ``POST`` +
  target URL + body + ``X-HubSpot-Request-Timestamp``)), the timestamp in epoch milliseconds of
  the portal's clock; the URL with the percent-escapes HubSpot's guide decodes, decoded.
* **Batched and unordered**: a request carries up to ``batch_size`` events, shuffled; up to
  ``max_concurrent`` requests are in flight, so batches overtake each other.
* **Retried**: a non-2xx answer, a connection error or no answer within ``timeout_seconds``
  (HubSpot: 5 s) fails the attempt; the same events go again (``attemptNumber`` + 1, a new
  timestamp and signature) after a randomised delay, up to ``max_attempts`` attempts, then
  they are lost. A slow answer that did store the events makes a duplicate, as at HubSpot.
* **Duplicates when asked**: ``duplicate_rate`` of the events are sent again in a later batch.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import itertools
import json
import random
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from hubspot_sandbox.changes import StoreChange
from hubspot_sandbox.clock import Clock, to_epoch_ms
from hubspot_sandbox.webhooks import WebhookSpec, events_for

_DECODED = {"3A": ":", "2F": "/", "3F": "?", "40": "@", "21": "!", "24": "$", "27": "'"}
_DECODED |= {"28": "(", "29": ")", "2A": "*", "2C": ",", "3B": ";"}
_ESCAPE = re.compile(r"%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)", re.IGNORECASE)
_IDLE_WAIT_SECONDS = 1.0


def sign_v3(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """HubSpot's v3 signature of a request."""
    decoded = _ESCAPE.sub(lambda m: _DECODED[m.group(1).upper()], uri)
    source = method.encode() + decoded.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), source, hashlib.sha256).digest()).decode()


@dataclass(slots=True)
class DeliveryStats:
    """What a portal's deliveries did: events made, requests by outcome (an HTTP status, or
    ``timeout`` / ``error``), events in 2xx requests (duplicates included), events given up
    after the last attempt, and extra copies sent on purpose (``duplicate_rate``)."""

    events: int = 0
    requests: Counter[str] = field(default_factory=Counter)
    delivered: int = 0
    lost: int = 0
    duplicated: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "requests": dict(self.requests),
            "delivered": self.delivered,
            "lost": self.lost,
            "duplicated": self.duplicated,
        }


@dataclass(slots=True)
class _Batch:
    events: list[dict[str, Any]]
    attempt: int = 0


class WebhookDelivery:
    """Sends one portal's events to its app's target URL until :meth:`close`."""

    def __init__(self, spec: WebhookSpec, *, clock: Clock, portal_id: int, name: str) -> None:
        self.spec = spec
        self._clock = clock
        self._portal_id = portal_id
        self._cond = threading.Condition()
        self._inbox: list[StoreChange] = []
        self._pending: list[tuple[dict[str, Any], bool]] = []
        """Events waiting for a batch, each with whether it is a deliberate copy."""
        self._pending_since = 0.0
        self._retries: list[tuple[float, int, _Batch]] = []
        self._in_flight = 0
        self._order = itertools.count()
        self._event_ids = itertools.count(time.time_ns() // 1000)  # unique across restarts
        self._random = random.Random(f"{spec.seed}/{name}")
        self._stopping = False
        self.stats = DeliveryStats()
        self._client = httpx.Client(timeout=spec.timeout_seconds)
        self._pool = ThreadPoolExecutor(spec.max_concurrent, thread_name_prefix=f"hook-{name}")
        self._thread = threading.Thread(target=self._run, name=f"webhooks-{name}", daemon=True)
        self._thread.start()

    def observe(self, change: StoreChange) -> None:
        """The store's observer: queue ``change`` (called under the store's lock)."""
        with self._cond:
            self._inbox.append(change)
            self._cond.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every event so far was answered with a 2xx or given up; False on timeout
        (a retry waiting out a long delay keeps it busy)."""
        with self._cond:
            return self._cond.wait_for(self._idle, timeout)

    def close(self) -> None:
        """Stop sending: queued events and pending retries are dropped."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout=10.0)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._client.close()

    def _idle(self) -> bool:
        return not (self._inbox or self._pending or self._retries or self._in_flight)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait(self._wait_seconds())
                if self._stopping:
                    return
                self._take_inbox()
                batches = self._due_batches(time.monotonic())
                self._in_flight += len(batches)
            for batch in batches:
                self._pool.submit(self._attempt, batch)

    def _wait_seconds(self) -> float:
        if self._inbox:
            return 0.0
        due = [at for at, _, _ in self._retries[:1]]
        if self._pending:
            due.append(self._pending_since + self.spec.batch_window_seconds)
        if not due:
            return _IDLE_WAIT_SECONDS
        return max(0.0, min(due) - time.monotonic())

    def _take_inbox(self) -> None:
        if self._inbox and not self._pending:
            self._pending_since = time.monotonic()
        for change in self._inbox:
            for event in events_for(change, self.spec, self._portal_id):
                self._pending.append(({"eventId": next(self._event_ids), **event}, False))
                self.stats.events += 1
        self._inbox.clear()

    def _due_batches(self, now: float) -> list[_Batch]:
        batches: list[_Batch] = []
        while self._retries and self._retries[0][0] <= now:
            batches.append(heapq.heappop(self._retries)[2])
        window_over = now >= self._pending_since + self.spec.batch_window_seconds
        if self._pending and (window_over or len(self._pending) >= self.spec.batch_size):
            cut, self._pending = self._pending, self._duplicates(self._pending)
            self._pending_since = now
            if self.spec.shuffle:
                self._random.shuffle(cut)
            events = [event for event, _ in cut]
            size = self.spec.batch_size
            batches += [_Batch(events[i : i + size]) for i in range(0, len(events), size)]
        return batches

    def _duplicates(
        self, pending: list[tuple[dict[str, Any], bool]]
    ) -> list[tuple[dict[str, Any], bool]]:
        """Copies of some of the events (never of a copy) for a later batch."""
        rate = self.spec.duplicate_rate
        copies = [
            (dict(event), True)
            for event, copy in pending
            if rate and not copy and self._random.random() < rate
        ]
        self.stats.duplicated += len(copies)
        return copies

    def _attempt(self, batch: _Batch) -> None:
        outcome = self._send(batch)
        with self._cond:
            self._in_flight -= 1
            self.stats.requests[outcome] += 1
            if outcome.startswith("2"):
                self.stats.delivered += len(batch.events)
            elif batch.attempt + 1 < self.spec.max_attempts and not self._stopping:
                self._schedule_retry(batch)
            else:
                self.stats.lost += len(batch.events)
            self._cond.notify_all()

    def _send(self, batch: _Batch) -> str:
        body = json.dumps(
            [{**event, "attemptNumber": batch.attempt} for event in batch.events],
            separators=(",", ":"),
        ).encode()
        stamp = str(to_epoch_ms(self._clock.now()))
        signature = sign_v3(self.spec.client_secret, "POST", self.spec.target_url, body, stamp)
        headers = {
            "Content-Type": "application/json",
            "X-HubSpot-Signature-v3": signature,
            "X-HubSpot-Request-Timestamp": stamp,
        }
        try:
            answer = self._client.post(self.spec.target_url, content=body, headers=headers)
        except httpx.TimeoutException:
            return "timeout"
        except httpx.TransportError:
            return "error"
        return str(answer.status_code)

    def _schedule_retry(self, batch: _Batch) -> None:
        delays = self.spec.retry_delays_seconds or (0.0,)
        delay = delays[min(batch.attempt, len(delays) - 1)] * self.spec.time_scale
        due = time.monotonic() + delay * self._random.uniform(0.75, 1.25)
        retry = _Batch(batch.events, batch.attempt + 1)
        heapq.heappush(self._retries, (due, next(self._order), retry))
