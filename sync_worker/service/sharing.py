"""How daemons sharing one store split the work (pure).

The live daemons, sorted by name, take the pairs, sorted by name, in turn: with N daemons each
runs every N-th pair, so the work spreads evenly and no daemon attempts a pair another one runs.
Rep discovery of each endpoint runs in one daemon, taken in turn the same way. Every daemon
computes the same split from the same list, so none has to ask another; when a daemon joins or
dies the split moves, and the pair lease (held while a cycle runs) keeps a pair whose cycle is
still in flight from running twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Share:
    """What one daemon runs."""

    pairs: frozenset[str]
    discoveries: frozenset[str]
    replicas: int


def share_of(me: str, live: Sequence[str], pairs: Iterable[str], endpoints: Iterable[str]) -> Share:
    """``me``'s share among ``live`` daemons (``me`` counts as live whatever the list says)."""
    members = sorted({*live, me})
    index, count = members.index(me), len(members)
    return Share(
        frozenset(p for k, p in enumerate(sorted(pairs)) if k % count == index),
        frozenset(e for k, e in enumerate(sorted(endpoints)) if k % count == index),
        count,
    )
