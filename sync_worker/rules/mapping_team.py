"""A ``deal_team`` field's compiled properties beyond its collaborators: the display showing the
whole team on each side and, optionally, the deal-owner property counted as a member.
Re-exported by :mod:`sync_worker.rules.mapping`."""

from __future__ import annotations

from dataclasses import dataclass

from sync_worker.kernel.model import Side
from sync_worker.rules.mapping_file import FieldModel

__all__ = ["TeamProperties", "team_properties"]


@dataclass(frozen=True, slots=True)
class TeamProperties:
    """A ``deal_team`` field's other properties: the text property showing the whole team on
    each side and, when the deal owner counts as a member, each side's owner property."""

    partner_display: str
    rep_display: str
    partner_owner: str | None = None
    rep_owner: str | None = None

    def display(self, side: Side) -> str:
        return self.partner_display if side is Side.PARTNER else self.rep_display

    def owner(self, side: Side) -> str | None:
        return self.partner_owner if side is Side.PARTNER else self.rep_owner


def team_properties(spec: FieldModel) -> TeamProperties | None:
    """The team properties of a ``deal_team`` field model; None for any other field."""
    if spec.display is None:
        return None
    owner = spec.deal_owner
    return TeamProperties(
        partner_display=spec.display.partner,
        rep_display=spec.display.rep,
        partner_owner=owner.partner if owner else None,
        rep_owner=owner.rep if owner else None,
    )
