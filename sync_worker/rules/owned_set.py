"""The owned-set merge (deal team): each account decides its own members.

A member is *owned* by the account whose user directory holds it; a member in both directories
or in neither is *shared*. The merged set is

* the partner-owned members exactly as the partner has them, plus
* the rep-owned members exactly as the rep has them, plus
* the shared members merged three-way per element: a member in the base stays only if both sides
  still have it (either side may remove it); a member not in the base is added if either has it.

So a side's edits to its own members always survive, and its edits to the other account's
members never do: those are reported as reverts (which members, which side).
"""

from __future__ import annotations

from dataclasses import dataclass

from sync_worker.kernel.model import Side
from sync_worker.rules.plan import Directory

__all__ = ["OwnedSetMerge", "merge_owned_set"]

_EMPTY: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class OwnedSetMerge:
    """The merged set and, per side, the foreign members whose edit is undone."""

    result: frozenset[str]
    partner_added: frozenset[str] = _EMPTY
    partner_removed: frozenset[str] = _EMPTY
    rep_added: frozenset[str] = _EMPTY
    rep_removed: frozenset[str] = _EMPTY

    def reverted(self, side: Side) -> tuple[frozenset[str], frozenset[str]]:
        """``(added, removed)``: the other account's members that ``side`` added / removed."""
        if side is Side.PARTNER:
            return self.partner_added, self.partner_removed
        return self.rep_added, self.rep_removed


def merge_owned_set(
    partner: frozenset[str], rep: frozenset[str], base: frozenset[str], directory: Directory
) -> OwnedSetMerge:
    """Merge the two sides' sets against ``base`` (empty when never agreed)."""
    owner = directory.owner
    result = {m for m in partner | rep if _keep(owner(m), m, partner, rep, base)}
    only_partner = partner - rep
    only_rep = rep - partner
    return OwnedSetMerge(
        result=frozenset(result),
        partner_added=frozenset(m for m in only_partner - base if owner(m) is Side.REP),
        partner_removed=frozenset(m for m in only_rep & base if owner(m) is Side.REP),
        rep_added=frozenset(m for m in only_rep - base if owner(m) is Side.PARTNER),
        rep_removed=frozenset(m for m in only_partner & base if owner(m) is Side.PARTNER),
    )


def _keep(
    owner: Side | None,
    member: str,
    partner: frozenset[str],
    rep: frozenset[str],
    base: frozenset[str],
) -> bool:
    if owner is Side.PARTNER:
        return member in partner
    if owner is Side.REP:
        return member in rep
    if member in base:
        return member in partner and member in rep
    return True  # in the union, not in the base: one side added it
