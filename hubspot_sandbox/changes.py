"""What the deal store tells an observer after each change (the webhook deliveries listen).

The store calls its observer while it holds its lock, so an observer must only hand the change
on (a queue), never wait.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class ChangeKind(StrEnum):
    CREATED = "creation"
    UPDATED = "propertyChange"
    ARCHIVED = "deletion"
    RESTORED = "restore"
    MERGED = "merge"


@dataclass(frozen=True, slots=True)
class StoreChange:
    """One change of one deal: ``changes`` are the values a creation or write set (``""``
    clears); a merge names the deals merged into ``deal_id`` and how many values moved."""

    kind: ChangeKind
    deal_id: int
    at_ms: int
    source: str
    source_id: str | None = None
    changes: Mapping[str, str] = field(default_factory=dict)
    merged_ids: tuple[int, ...] = ()
    properties_moved: int = 0


Observer = Callable[[StoreChange], None]
