"""The user directory a cycle reconciles with, fetched at the edge: lazily, once per cycle.

Nothing is fetched until a pair needs it (an idle cycle costs one search per side). A mapping
with a ``deal_team`` field resolves owner ids through each account's owners (active and
deactivated, with names; the connector caches them per credential); an id the cached list does
not know makes that account's owners reload (at most once per side and cycle, and only for
deals that changed, so an id unknown for good cannot cause a reload storm). Owner ids still
unknown after that, and deactivated owners, are logged per deal: they are left off the team
display (see :mod:`sync_worker.rules.deal_team`).
Other mappings need only each account's active users' emails, as before.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import structlog

from sync_worker.connectors.base import User
from sync_worker.kernel.model import DealRecord, Side
from sync_worker.rules.deal_team import team_ids
from sync_worker.rules.plan import Directory, Person
from sync_worker.sync.context import PairContext

__all__ = ["Directories", "DirectorySource", "FixedDirectory"]

log = structlog.stdlib.get_logger("sync_worker.sync.team")


class DirectorySource(Protocol):
    """Where a page processor gets its :class:`Directory`."""

    def current(self) -> Directory:
        """The directory as known now (fetched on first use)."""
        ...

    def cover(self, records: Iterable[tuple[Side, DealRecord]]) -> None:
        """Make :meth:`current` know (if at all possible) every owner id ``records`` name;
        fetches nothing when they name none."""
        ...


class FixedDirectory:
    """A directory given up front (tests, tools that built one already)."""

    def __init__(self, directory: Directory) -> None:
        self._directory = directory

    def current(self) -> Directory:
        return self._directory

    def cover(self, records: Iterable[tuple[Side, DealRecord]]) -> None:
        del records


class Directories:
    """One cycle's directory of one pair (see the module docstring)."""

    def __init__(self, ctx: PairContext) -> None:
        self._ctx = ctx
        self._teams = any(spec.team is not None for spec in ctx.mapping.fields)
        self._owners: dict[Side, tuple[User, ...]] = {}
        self._refreshed: set[Side] = set()
        self._directory: Directory | None = None
        self._logged: set[tuple[Side, str, str]] = set()  # (side, deal, owner): once a cycle

    def current(self) -> Directory:
        if self._directory is None:
            self._directory = self._load()
        return self._directory

    def cover(self, records: Iterable[tuple[Side, DealRecord]]) -> None:
        if not self._teams:
            return
        named = [
            (side, record, team_ids(self._ctx.mapping, side, record)) for side, record in records
        ]
        named = [item for item in named if item[2]]
        if not named:
            return
        directory = self.current()
        for side in Side:
            known = directory.people(side).keys()
            stale = any(not ids <= known for s, _, ids in named if s is side)
            if stale and side not in self._refreshed:
                self._refreshed.add(side)
                self._owners[side] = self._ctx.connector(side).owners(refresh=True)
                self._directory = directory = _from_owners(self._owners)
        for side, record, ids in named:
            fresh = frozenset(i for i in ids if (side, record.id, i) not in self._logged)
            self._logged.update((side, record.id, i) for i in fresh)
            _log_non_members(side, record, fresh, directory)

    def _load(self) -> Directory:
        if not self._teams:
            return Directory(
                partner=frozenset(u.email for u in self._ctx.partner.users() if u.email),
                rep=frozenset(u.email for u in self._ctx.rep.users() if u.email),
            )
        for side in Side:
            self._owners[side] = self._ctx.connector(side).owners()
        return _from_owners(self._owners)


def _from_owners(owners: dict[Side, tuple[User, ...]]) -> Directory:
    people = {
        side: [Person(u.id, u.email, u.name, u.active) for u in owners.get(side, ()) if u.email]
        for side in Side
    }
    return Directory.from_people(people[Side.PARTNER], people[Side.REP])


def _log_non_members(
    side: Side, record: DealRecord, ids: frozenset[str], directory: Directory
) -> None:
    people = directory.people(side)
    for owner_id in sorted(ids):
        person = people.get(owner_id)
        if person is None:
            log.warning(
                "deal_team_owner_unknown",
                side=str(side),
                deal_id=record.id,
                owner_id=owner_id,
                action="left off the team display: the account's owners do not list this id",
            )
        elif not person.active:
            log.info(
                "deal_team_owner_deactivated",
                side=str(side),
                deal_id=record.id,
                owner_id=owner_id,
                email=person.email,
                action="left off the team display; the collaborator is left as it is",
            )
