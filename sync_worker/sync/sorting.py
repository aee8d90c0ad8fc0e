"""Sorting one page of changed records into what must happen to each (no I/O).

For every record the engine asks: is it linked (then it needs its counterpart, unless it is
stale or an echo that equals the base), does it name a counterpart the store does not know yet
(a *claim*: a link written by an interrupted run, or by hand), or is it a new shared deal
originating on this side (it needs a counterpart created)?
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from sync_worker.kernel.errors import RejectedValueError
from sync_worker.kernel.model import DealRecord, Side
from sync_worker.rules.mapping import SyncMapping
from sync_worker.rules.plan import format_value
from sync_worker.state.base import LinkState, LinkStatus
from sync_worker.sync.tally import Skip


@dataclass(slots=True)
class Sorted:
    """The records of one page, by what must happen to them. ``foreign``: the link property
    holds a value this pair's mapping does not read as a link (another account's, or garbage)."""

    linked: list[tuple[DealRecord, LinkState]] = field(default_factory=list)
    claims: list[tuple[DealRecord, str]] = field(default_factory=list)
    foreign: list[tuple[DealRecord, str]] = field(default_factory=list)
    origins: list[DealRecord] = field(default_factory=list)
    skipped: dict[Skip, int] = field(default_factory=dict)
    settled_ids: list[str] = field(default_factory=list)

    def skip(self, why: Skip, record: DealRecord, *, settled: bool = False) -> None:
        """Count a record that needs nothing now. Only a ``settled`` one (its link is a
        tombstone: nothing will ever be retried) may close its dead letter; an echo or a stale
        snapshot may not, since the failure it would hide is still there."""
        self.skipped[why] = self.skipped.get(why, 0) + 1
        if settled:
            self.settled_ids.append(record.id)


def latest_per_id(records: Iterable[DealRecord]) -> list[DealRecord]:
    """One record per id (the most recently modified), in first-seen order."""
    latest: dict[str, DealRecord] = {}
    for record in records:
        known = latest.get(record.id)
        if known is None or record.modified_at >= known.modified_at:
            latest[record.id] = record
    return list(latest.values())


def sort_page(
    side: Side,
    records: Iterable[DealRecord],
    links: Mapping[str, LinkState],
    mapping: SyncMapping,
    *,
    force: Collection[str] = (),
) -> Sorted:
    """Sort ``records`` (pulled from ``side``). Ids in ``force`` (dead letters being retried)
    always get their counterpart read, even when they look like echoes."""
    result = Sorted()
    for record in records:
        link = links.get(record.id)
        if link is not None:
            _sort_linked(side, record, link, mapping, forced=record.id in force, result=result)
        elif stored := record.get(mapping.link_property(side)):
            counterpart = mapping.counterpart_id(side, stored)
            if counterpart is None:
                result.foreign.append((record, stored))
            else:
                result.claims.append((record, counterpart))
        elif mapping.may_originate(side):
            result.origins.append(record)
        else:
            result.skip(Skip.NOT_AN_ORIGIN, record)
    return result


def _sort_linked(
    side: Side,
    record: DealRecord,
    link: LinkState,
    mapping: SyncMapping,
    *,
    forced: bool,
    result: Sorted,
) -> None:
    if link.status is not LinkStatus.ACTIVE:
        result.skip(Skip.LINK_GONE, record, settled=True)
        return
    written = link.written_at(side)
    if written is not None and record.modified_at < written and not forced:
        # Older than a version already reconciled or written: acting on it would push stale
        # values; the fresher version (or its echo) comes with a later page or cycle.
        result.skip(Skip.STALE, record)
        return
    if not forced and unchanged(record, side, link, mapping):
        result.skip(Skip.UNCHANGED, record)
        return
    result.linked.append((record, link))


def fingerprint(properties: Mapping[str, str | None], side: Side, mapping: SyncMapping) -> str:
    """A digest of ``side``'s link property and mapped values, canonical where readable, so
    formatting noise (``"1500"`` vs ``"1500.00"``) does not count as a change."""
    digest = hashlib.blake2b(digest_size=16)
    link = properties.get(mapping.link_property(side)) or ""
    digest.update(link.encode())
    for spec in mapping.fields:
        raw = properties.get(spec.property_on(side))
        try:
            shown = format_value(spec.codec(side).read(raw))
        except RejectedValueError:
            shown = f"raw:{raw}"
        digest.update(b"\x1f" + spec.name.encode() + b"=" + (shown or "").encode())
        for prop in spec.extra_properties(side):  # a deal team's display and owner
            digest.update(b"\x1f" + prop.encode() + b"=" + (properties.get(prop) or "").encode())
    return digest.hexdigest()


def settled(record: DealRecord, link: LinkState, mapping: SyncMapping) -> bool:
    """Whether a rep ``record`` needs nothing from ``link``'s pair, as :func:`sort_page` would
    find: its link is a tombstone, it is older than what the worker wrote, or unchanged."""
    if link.status is not LinkStatus.ACTIVE:
        return True
    written = link.written_at(Side.REP)
    if written is not None and record.modified_at < written:
        return True
    return unchanged(record, Side.REP, link, mapping)


def unchanged(record: DealRecord, side: Side, link: LinkState, mapping: SyncMapping) -> bool:
    """Whether ``record`` holds exactly what the worker last saw or wrote on ``side`` (an echo of
    its own write, or a change to properties the mapping ignores). Then it cannot originate a
    change; if its counterpart changed, the counterpart's own pull brings that."""
    seen = link.seen(side)
    return seen is not None and seen == fingerprint(record.properties, side, mapping)
