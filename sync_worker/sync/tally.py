"""What a cycle did, counted: typed counts per page, summed per cycle, shown in reports, logs,
metrics and the run log under stable names."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum

from sync_worker.kernel.model import BySide, Side


class Skip(StrEnum):
    """Why a pulled record needed nothing this cycle."""

    STALE = "stale"
    """Older than a version already reconciled or written."""
    UNCHANGED = "unchanged"
    """Holds what the worker last saw or wrote (an echo, or an unmapped change)."""
    LINK_GONE = "link_gone"
    """Its link is a tombstone: one side was archived or deleted."""
    NOT_AN_ORIGIN = "not_an_origin"
    """Unlinked, on a side the mapping does not create counterparts from."""
    OUT_OF_SCOPE = "out_of_scope"
    """A linked deal of the pair is outside the pair's scope: not synced until it is back."""
    NOT_IN_SCOPE = "not_in_scope"
    """Found by its link property only (a second discovery group), yet in no scope of its
    side: it may not originate anything."""
    NOT_SELECTED = "not_selected"
    """Read live for an inbox entry (a webhook), yet outside what the side's pull selects."""


_ZERO = BySide(0, 0)


@dataclass(frozen=True, slots=True)
class Tally:
    """Counts of one page or one cycle; ``+`` sums them."""

    pulled: BySide[int] = _ZERO
    created: BySide[int] = _ZERO
    """Counterparts created on each side."""
    updated: BySide[int] = _ZERO
    """Records written on each side (updates and link-backs that landed)."""
    fields_changed: int = 0
    conflicts: int = 0
    dead_lettered: int = 0
    rejected: int = 0
    gone: int = 0
    linked: int = 0
    reverted: int = 0
    reconciled: int = 0
    write_failed: int = 0
    dead_letters_retried: int = 0
    inbox_drained: int = 0
    """Inbox entries (changes found by discovery or a webhook) read live and processed."""
    skipped: Mapping[Skip, int] = field(default_factory=dict)

    def __add__(self, other: Tally) -> Tally:
        values: dict[str, object] = {}
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if isinstance(mine, BySide):
                values[f.name] = BySide(mine.partner + theirs.partner, mine.rep + theirs.rep)
            elif isinstance(mine, int):
                values[f.name] = mine + theirs
            else:
                values[f.name] = {k: mine.get(k, 0) + theirs.get(k, 0) for k in {*mine, *theirs}}
        return Tally(**values)  # type: ignore[arg-type]

    def as_counts(self) -> dict[str, int]:
        """The counts under their stable names (``created.rep``, ``skipped.stale`` ...), as the
        run log, reports and metrics have always named them; zeros left out."""
        counts: dict[str, int] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, BySide):
                counts.update({f"{f.name}.{side}": value[side] for side in Side})
            elif isinstance(value, int):
                counts[f.name] = value
        counts.update({f"skipped.{why}": n for why, n in self.skipped.items()})
        return {name: n for name, n in counts.items() if n}
