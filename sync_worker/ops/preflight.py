"""Validate at start: before ``once``, ``run`` or ``backfill`` syncs, each pair's mapping is
checked against its portals' property definitions and options (one call per credential: the
definitions are cached and shared by every pair using that token).

A pair its portals cannot serve (a mapped property missing, the link property not unique, a
read-only property written, an option unknown) is refused with the lines ``check`` prints; the
other pairs go on. A portal that cannot be read at all is left to the cycle, which fails and
says why. Without this, such a pair synced nothing, without a
word, until a value happened to flow.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import structlog

from sync_worker.ops.probe import schema_problems
from sync_worker.sync.context import PairContext

log = structlog.stdlib.get_logger("sync_worker.ops.preflight")

PARALLEL_CHECKS = 8


def refused_pairs(pairs: Mapping[str, PairContext]) -> dict[str, list[str]]:
    """The pairs among ``pairs`` that may not sync, each with its problems (``check``'s
    lines); logs ``pair_refused`` for each."""
    refused: dict[str, list[str]] = {}
    # One call per credential, each a round trip to HubSpot (0.1-0.3 s): in turn, 200 pairs
    # took some 44 s to start. The definitions cache loads each credential once, whichever
    # thread asks first; the rate limiter paces the threads together.
    with ThreadPoolExecutor(max_workers=PARALLEL_CHECKS, thread_name_prefix="preflight") as pool:
        found = dict(zip(pairs, pool.map(schema_problems, pairs.values()), strict=True))
    for name, problems in found.items():
        if not problems:
            continue
        refused[name] = problems
        log.error(
            "pair_refused",
            pair=name,
            problems=problems,
            action="not synced; fix the mapping or the portal (see `sync-worker check`)",
        )
    return refused


def refusal_lines(refused: Mapping[str, list[str]]) -> list[str]:
    """One line per problem, as ``check`` prints them, saying the pair was not synced."""
    return [
        f"pair {name} refused (not synced): {problem}"
        for name, problems in refused.items()
        for problem in problems
    ]
