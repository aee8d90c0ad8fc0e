"""API calls the HubSpot connector spends per N changed deals, against the theoretical floor.

Run: ``.venv/bin/python -m benchmarks.connector_calls [--backend sandbox|fake] [--sizes 1,150]``

For each N it pulls every change (search), reads every changed deal (batch read), writes an
update to each (batch update, U = N), then makes an idle pull. The floor is
``ceil(N/200)`` searches + ``ceil(N/100)`` reads + ``ceil(U/100)`` writes; the target is at most
1.1x the floor, and an idle pull costs one search. Two shapes of change: ``spread`` (one deal
per millisecond) and ``same-ms`` (all N modified in one millisecond: with N = 25,000 that is
past HubSpot's 10,000-result search cap, which paging by id never meets).

The default backend is the sandbox (``hubspot_sandbox``) over real loopback HTTP; ``fake``
is the in-process fake of the tests behind ``httpx.MockTransport``. Pacing runs on a FakeClock
(its sleeps return at once) and the sandbox portal is "unlimited", so it takes seconds.
"""

from __future__ import annotations

import argparse
import math
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from pydantic import SecretStr

from sync_worker.connectors.base import Filter, RecordUpdate, Scope
from sync_worker.connectors.hubspot import HubSpotConnector, make_hubspot_connector
from sync_worker.kernel.clock import FakeClock
from sync_worker.runtime.logging import configure_logging

SIZES = (1, 150, 1_000, 25_000)
TOKEN = "bench-token"  # noqa: S105 - a local sandbox portal's token
SCOPE = Scope.all_of([Filter("dealname", "HAS_PROPERTY")])
PROPS = ["dealname", "amount"]
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
KINDS = ("search", "read", "update")


class CountingTransport(httpx.BaseTransport):
    """Counts requests by endpoint kind on their way to the real transport."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.counts: Counter[str] = Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.counts[request.url.path.rsplit("/", 1)[-1]] += 1
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


@dataclass(frozen=True)
class Portal:
    """What the benchmark needs from a backend: a base URL and transport, and deal loaders."""

    base_url: str
    transport: httpx.BaseTransport
    spread: Callable[[int], list[str]]
    same_ms: Callable[[int], list[str]]


@contextmanager
def sandbox_portal(clock: FakeClock) -> Iterator[Portal]:
    from hubspot_sandbox import PortalSpec, Sandbox, SandboxServer

    sandbox = Sandbox([PortalSpec(name="bench", token=TOKEN, tier="unlimited")], clock=clock)
    portal = sandbox.portal("bench")

    def spread(count: int) -> list[str]:
        return [
            portal.create_deal(_row(n), at=clock.now() + timedelta(milliseconds=n))
            for n in range(count)
        ]

    def same_ms(count: int) -> list[str]:
        return portal.bulk_load([_row(n) for n in range(count)], modified_at=clock.now())

    with SandboxServer(sandbox) as server:
        yield Portal(server.base_url("bench"), httpx.HTTPTransport(), spread, same_ms)


@contextmanager
def fake_portal(clock: FakeClock) -> Iterator[Portal]:
    from tests.connectors.fake_hubspot import FakeHubSpot

    fake = FakeHubSpot(clock, token=TOKEN)

    def spread(count: int) -> list[str]:
        return [
            fake.store.put(_row(n), at=clock.now() + timedelta(milliseconds=n))
            for n in range(count)
        ]

    def same_ms(count: int) -> list[str]:
        return [fake.store.put(_row(n), at=clock.now()) for n in range(count)]

    yield Portal("https://api.hubapi.test", httpx.MockTransport(fake.handle), spread, same_ms)


BACKENDS = {"sandbox": sandbox_portal, "fake": fake_portal}


def _row(n: int) -> dict[str, str]:
    return {"dealname": f"Bench deal {n}", "amount": str(1000 + n)}


@dataclass(frozen=True)
class Result:
    backend: str
    shape: str
    n: int
    calls: dict[str, int]
    idle: int
    pulled: int
    api_calls: int

    @property
    def floor(self) -> int:
        return math.ceil(self.n / 200) + 2 * math.ceil(self.n / 100)

    @property
    def used(self) -> int:
        return sum(self.calls.values())


def _connector(portal: Portal, clock: FakeClock, counter: CountingTransport) -> HubSpotConnector:
    return make_hubspot_connector(
        name="bench",
        base_url=portal.base_url,
        token=SecretStr(TOKEN),
        tier="enterprise",
        clock=clock,
        overlap_seconds=120,
        transport=counter,
    )


def measure(backend: str, shape: str, n: int) -> Result:
    """One run on a fresh portal: pull, read, update, then an idle pull."""
    data_clock, pacing_clock = FakeClock(START), FakeClock(START)
    with BACKENDS[backend](data_clock) as portal:
        ids = (portal.same_ms if shape == "same-ms" else portal.spread)(n)
        counter = CountingTransport(portal.transport)
        connector = _connector(portal, pacing_clock, counter)
        since = START - timedelta(hours=1)
        # The pull starts after the changes were made (it reads up to its own start); "spread"
        # stamps deal k at START + k ms.
        pacing_clock.advance(n / 1000 + 1)
        pulled = {r.id for page in connector.changes(since, SCOPE, PROPS) for r in page.records}
        assert pulled == set(ids), f"pull missed {len(set(ids) - pulled)} deals"
        connector.read(ids, PROPS)
        written = connector.update([RecordUpdate(i, {"amount": "1"}) for i in ids])
        assert not written.failed, written.failed[:3]
        calls = {kind: counter.counts[kind] for kind in KINDS}
        data_clock.advance(3600)
        before = counter.counts["search"]
        list(connector.changes(data_clock.now(), SCOPE, PROPS))
        idle = counter.counts["search"] - before
        total = connector.api_calls()
        connector.close()
    return Result(backend, shape, n, calls, idle, len(pulled), total)


def report(results: Sequence[Result]) -> str:
    head = f"{'backend':8} {'shape':8} {'N':>6} {'search':>7} {'read':>5} {'update':>6} "
    head += f"{'used':>5} {'floor':>5} {'ratio':>6} {'idle':>5}"
    lines = [head, "-" * len(head)]
    for r in results:
        c = r.calls
        lines.append(
            f"{r.backend:8} {r.shape:8} {r.n:>6} {c['search']:>7} {c['read']:>5} "
            f"{c['update']:>6} {r.used:>5} {r.floor:>5} {r.used / r.floor:>6.3f} {r.idle:>5}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    configure_logging(fmt="console", level="warning")  # no debug line per call
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=sorted(BACKENDS), default="sandbox")
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES))
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    results = [
        measure(args.backend, shape, n)
        for n in sizes
        for shape in ("spread", "same-ms")
        if not (n == 1 and shape == "same-ms")
    ]
    print(report(results))
    worst = max(r.used / r.floor for r in results)
    idle = max(r.idle for r in results)
    print(f"\nworst ratio {worst:.3f} (target <= 1.1); an idle pull costs {idle} search call(s)")


if __name__ == "__main__":
    main()
