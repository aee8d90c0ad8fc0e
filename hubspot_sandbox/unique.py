"""Unique-value properties of a portal (``hasUniqueValue``): which deal holds each value.

A write or creation that would give a second active deal a held value is a 409 (reference §3);
an archived deal releases its values. Used under the deal store's lock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from hubspot_sandbox.errors import unique_conflict
from hubspot_sandbox.records import Deal


class UniqueValues:
    """Per unique property, value -> the id of the active deal holding it."""

    def __init__(self, names: Iterable[str]) -> None:
        self._held: dict[str, dict[str, int]] = {name: {} for name in names}

    def has(self, name: str) -> bool:
        return name in self._held

    def holder(self, name: str, value: str) -> int | None:
        return self._held[name].get(value)

    def held_by(self, deal: Deal) -> dict[str, str]:
        """The unique values ``deal`` carries."""
        return {name: deal.values[name] for name in self._held if name in deal.values}

    def check(self, changes: Mapping[str, str], own_id: int | None) -> None:
        """Raise the 409 if ``changes`` set a value another deal holds."""
        for name, index in self._held.items():
            value = changes.get(name)
            holder = index.get(value) if value else None
            if holder is not None and holder != own_id:
                raise unique_conflict(name, value or "", str(holder))

    def check_batch(self, rows: Iterable[Mapping[str, str]]) -> None:
        """Like :meth:`check` for new deals, and no two rows may share a value."""
        seen: set[tuple[str, str]] = set()
        for row in rows:
            self.check(row, None)
            for name in self._held:
                value = row.get(name)
                if value and (name, value) in seen:
                    raise unique_conflict(name, value, "(same batch)")
                if value:
                    seen.add((name, value))

    def index(self, deal: Deal, changes: Mapping[str, str]) -> None:
        for name, index in self._held.items():
            if changes.get(name):
                index[changes[name]] = deal.id

    def unindex(self, deal: Deal, changes: Mapping[str, str]) -> None:
        """Before ``changes`` apply: release the old values they replace."""
        for name, index in self._held.items():
            old = deal.values.get(name)
            if name in changes and old and index.get(old) == deal.id:
                del index[old]

    def release(self, deal: Deal) -> None:
        """``deal`` is archived: its values are free again."""
        for name, index in self._held.items():
            if index.get(deal.values.get(name, "")) == deal.id:
                del index[deal.values[name]]
