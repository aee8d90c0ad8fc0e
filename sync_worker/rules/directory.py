"""Who is who in a pair's two accounts: the user directories the owned-set rules consult.

Built at the edge (:mod:`sync_worker.sync.team`) from each connector's users or owners, then
handed to the pure reconciler; re-exported by :mod:`sync_worker.rules.plan`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sync_worker.kernel.model import Side

__all__ = ["Directory", "Person"]


@dataclass(frozen=True, slots=True)
class Person:
    """A user of one account as its owners API knows them: the owner id a collaborator or deal
    owner property holds, the lower-cased email, a display name, and whether still active."""

    id: str
    email: str
    name: str = ""
    active: bool = True
    shown: str = field(init=False, repr=False, compare=False)
    """How the team display lists them: ``Name <email>``, or the email alone."""

    def __post_init__(self) -> None:
        # Computed once: every reconcile of a deal team renders its members.
        shown = f"{self.name} <{self.email}>" if self.name else self.email
        object.__setattr__(self, "shown", shown)


@dataclass(frozen=True, slots=True)
class Directory:
    """The user directories of a pair, as lower-cased emails, for owned-set fields; for
    ``deal_team`` fields also each account's owners by owner id (active and deactivated)."""

    partner: frozenset[str]
    rep: frozenset[str]
    partner_people: Mapping[str, Person] = field(default_factory=dict)
    rep_people: Mapping[str, Person] = field(default_factory=dict)

    @classmethod
    def from_emails(cls, partner: Iterable[str], rep: Iterable[str]) -> Directory:
        """Build from each account's user emails (e.g. ``Connector.users()``), normalised."""
        return cls(
            partner=frozenset(e.strip().lower() for e in partner if e.strip()),
            rep=frozenset(e.strip().lower() for e in rep if e.strip()),
        )

    @classmethod
    def from_people(cls, partner: Iterable[Person], rep: Iterable[Person]) -> Directory:
        """Build from each account's owners; the email directories hold the active ones."""
        by_id = {Side.PARTNER: {p.id: p for p in partner}, Side.REP: {p.id: p for p in rep}}
        emails = {s: frozenset(p.email for p in by_id[s].values() if p.active) for s in Side}
        return cls(emails[Side.PARTNER], emails[Side.REP], by_id[Side.PARTNER], by_id[Side.REP])

    def owner(self, email: str) -> Side | None:
        """The account that owns ``email``; ``None`` when both or neither directory holds it."""
        in_partner = email in self.partner
        if in_partner == (email in self.rep):
            return None
        return Side.PARTNER if in_partner else Side.REP

    def people(self, side: Side) -> Mapping[str, Person]:
        """``side``'s owners by owner id, deactivated ones included."""
        return self.partner_people if side is Side.PARTNER else self.rep_people
