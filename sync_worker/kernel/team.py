"""A deal team as the worker last showed it (the base of a ``deal_team`` field)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Team", "team_from_jsonable"]


@dataclass(frozen=True, slots=True)
class Team:
    """A deal team as the worker last showed it: each account's members by email.

    The base of a ``deal_team`` field. Stored as a JSON object (``{"partner": [...], "rep":
    [...]}``), never a list, so the list a text-team (``user_set``) field stored under the same
    field name does not decode as one: that pair then counts as never synced, which is what
    seeds the collaborators from the old text team (the migration).
    """

    partner: frozenset[str]
    rep: frozenset[str]

    @property
    def everyone(self) -> frozenset[str]:
        return self.partner | self.rep

    def __str__(self) -> str:
        partner = ";".join(sorted(self.partner)) or "-"
        rep = ";".join(sorted(self.rep)) or "-"
        return f"partner: {partner} | rep: {rep}"


def team_from_jsonable(data: object) -> Team:
    """A :class:`Team` from its stored JSON; raises for anything else (e.g. a text team's list)."""
    sides = data if isinstance(data, dict) else {}
    members = {side: sides.get(side) for side in ("partner", "rep")}
    if not isinstance(data, dict) or not all(
        isinstance(m, list) and all(isinstance(e, str) for e in m) for m in members.values()
    ):
        raise ValueError(f"expected a deal team object, got {data!r}")
    return Team(frozenset(members["partner"] or ()), frozenset(members["rep"] or ()))
