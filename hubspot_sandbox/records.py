"""One stored deal: its current values and the log of writes that produced them.

Property history is not stored per property: it is read back from the write log (newest first),
which keeps 100,000 deals small. A write that sets a property records a history entry for it even
when the value does not change, and every write bumps ``hs_lastmodifieddate`` (assumption: HubSpot
documents that any property update bumps it, not whether a same-value write is an update).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from hubspot_sandbox.properties import REGISTRATIONS, iso_ms

REGISTERED_KEY = "__registered"
"""Hidden value set by :meth:`Portal.register_deal` (cleared when the registration ends);
never returned, and no API request can write it."""


class Write(NamedTuple):
    """One write: when, by whom (HubSpot ``sourceType``/``sourceId``), and the values it set."""

    at_ms: int
    source: str
    source_id: str | None
    changes: Mapping[str, str]


class Deal:
    """A deal's current state. ``values`` never holds empty strings (cleared = absent)."""

    __slots__ = ("archived", "archived_ms", "id", "modified_ms", "registered", "values", "writes")

    def __init__(self, deal_id: int, values: dict[str, str], writes: list[Write]) -> None:
        self.id = deal_id
        self.values = values
        self.writes = writes
        self.modified_ms = writes[-1].at_ms
        self.archived = False
        self.archived_ms = 0
        self.registered = self._count_registrations()
        """The calculated registration count, kept current by :meth:`apply`."""

    @property
    def created_ms(self) -> int:
        return self.writes[0].at_ms

    def registrations(self) -> int:
        return self.registered

    def _count_registrations(self) -> int:
        """The calculated registration count: 1 while the deal has an active registration.

        HubSpot computes it from deal-registration records that no API creates (reference §9),
        so only a seeded or UI-made registration (``register_deal``, the admin API) counts;
        no property a deal carries, its link property included, makes it registered.
        """
        return 1 if REGISTERED_KEY in self.values else 0

    def value(self, name: str) -> str | None:
        """Current value of ``name`` (system properties included); None when it has none."""
        if name == "hs_object_id":
            return str(self.id)
        if name == "hs_lastmodifieddate":
            return iso_ms(self.modified_ms)
        if name == REGISTRATIONS:
            return str(self.registrations())
        if name.startswith("__"):
            return None
        return self.values.get(name)

    def apply(self, write: Write) -> None:
        """Record ``write`` and apply it ("" clears a value)."""
        for name, text in write.changes.items():
            if text == "":
                self.values.pop(name, None)
            else:
                self.values[name] = text
        self.writes.append(write)
        self.modified_ms = max(self.modified_ms, write.at_ms)
        self.registered = self._count_registrations()

    def as_of(self, cutoff_ms: int) -> Deal | None:
        """This deal as it was at ``cutoff_ms`` (None if it did not exist yet)."""
        past = [w for w in self.writes if w.at_ms <= cutoff_ms]
        if not past:
            return None
        deal = Deal(self.id, {}, [past[0]])
        deal.values.update({k: v for k, v in past[0].changes.items() if v != ""})
        for write in past[1:]:
            deal.apply(write)
        return deal

    def history(self, name: str) -> Iterator[dict[str, Any]]:
        """HubSpot ``propertiesWithHistory`` entries for ``name``, newest first."""
        if name in ("hs_lastmodifieddate", REGISTRATIONS, "hs_object_id"):
            yield from _calculated_history(self, name)
            return
        for write in reversed(self.writes):
            if name in write.changes:
                yield _entry(write.changes[name], write.at_ms, write.source, write.source_id)


def _entry(value: str, at_ms: int, source: str, source_id: str | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"value": value, "timestamp": iso_ms(at_ms), "sourceType": source}
    if source_id is not None:
        entry["sourceId"] = source_id
    return entry


def _calculated_history(deal: Deal, name: str) -> Iterator[dict[str, Any]]:
    if name == "hs_object_id":
        yield _entry(str(deal.id), deal.created_ms, "CALCULATED", None)
        return
    if name == "hs_lastmodifieddate":
        for write in reversed(deal.writes):
            yield _entry(iso_ms(write.at_ms), write.at_ms, "CALCULATED", None)
        return
    entries = []
    replay = Deal(deal.id, {}, [deal.writes[0]])
    previous: int | None = None
    for write in deal.writes:
        replay.apply(write)
        count = replay.registrations()
        if count != previous:
            entries.append(_entry(str(count), write.at_ms, "CALCULATED", None))
            previous = count
    yield from reversed(entries)
