"""A process that spends a credential's budget through the product's own wiring.

``python -m tests.cli.budget_driver CONFIG READS SEARCHES``: loads CONFIG, builds the runtime
(state store, limiters, connectors) as ``sync-worker`` does, prints ``ready`` and waits for a
line on stdin (so that two drivers start their bursts together). Then one thread sends READS
batch reads and another SEARCHES searches on the rep endpoint of the config's first pair, as
fast as the limiter lets them, and the driver prints one JSON line: requests that succeeded,
that HubSpot refused with a 429, that the daily limit stopped, and the HTTP calls it sent.
"""

from __future__ import annotations

import json
import sys
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from sync_worker.connectors.base import Connector, Scope
from sync_worker.kernel.errors import DailyLimitReached, RateLimited
from sync_worker.runtime.config import load_config
from sync_worker.runtime.wiring import runtime_for


def spend(connector: Connector, reads: int, searches: int) -> Counter[str]:
    tally: Counter[str] = Counter()
    lock = threading.Lock()

    def read() -> None:
        connector.read(["1"], ["dealname"])

    def search() -> None:
        for _page in connector.changes(None, Scope(), ["dealname"]):
            pass

    def run(call: Callable[[], None], times: int) -> None:
        for _ in range(times):
            try:
                call()
                outcome = "ok"
            except RateLimited:
                outcome = "rate_limited"
            except DailyLimitReached:
                outcome = "daily_limited"
            with lock:
                tally[outcome] += 1
            if outcome == "daily_limited":
                return

    threads = [
        threading.Thread(target=run, args=(read, reads)),
        threading.Thread(target=run, args=(search, searches)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tally


def main(argv: list[str]) -> int:
    config, reads, searches = Path(argv[0]), int(argv[1]), int(argv[2])
    with runtime_for(load_config(config)) as runtime:
        connector = next(iter(runtime.pairs.values())).rep
        print("ready", flush=True)  # noqa: T201 - the parent reads it
        sys.stdin.readline()
        tally = spend(connector, reads, searches)
        report = {**tally, "http_calls": connector.api_calls()}
    print(json.dumps(report), flush=True)  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
