"""The deal team as HubSpot's own deal collaborators: a ``deal_team`` field (rule ``owned_set``).

HubSpot notifies a deal's collaborators (``hs_all_collaborator_owner_ids``, owner ids) of its
activity, and its picker offers only the account's own users. So each account's **own members
are its collaborators** and the worker never writes them from the other side: each side's
collaborators stay exactly what that side chose. What the worker keeps is the **display**, a
text property on both sides listing the whole team (``Name <email>;...``), derived from

* each side's collaborators, resolved through that account's owners (``Directory.people``),
* plus, when ``deal_owner`` is configured, each side's deal owner.

An owner id that is deactivated (archived) or unknown to the account is not a member: it is
left out of the display (the sync layer logs it) and left alone in the collaborators.

A person's edit to the display is undone: the derived team is written back and the edit is
reported as an :class:`OwnedSetRevert` (``added`` removed again, ``removed`` restored).

**Seeding (the migration from the text team).** The base of a ``deal_team`` field is a
:class:`Team`. A pair without one (never synced, or synced before by a text team, whose base was
a list) has its displays read as its *text team* (the emails either display lists; after a
text-team sync both list the same): each email that is an active user of an account and not on
the team yet is added to that account's collaborators (a deal being created gets its own users
among them as collaborators). This is the only time the worker writes collaborators, and then
only active owner ids (HubSpot accepts no others: a deactivated one already there is dropped).
Emails that are active users of neither account are left off the team and reported, as reverts
of the text that named them.
"""

from __future__ import annotations

from collections.abc import Mapping

from sync_worker.kernel.canonical import Team, format_value
from sync_worker.kernel.model import DealRecord, Side
from sync_worker.rules.builder import Builder
from sync_worker.rules.mapping import FieldMapping, SyncMapping
from sync_worker.rules.plan import Directory, FieldChange, OwnedSetRevert, Person, Reason

__all__ = ["create_team", "member_ids", "reconcile_team", "shown_emails", "team_ids"]

Members = dict[str, Person]
"""A side's members by email."""

_SIDES = (Side.PARTNER, Side.REP)  # iterating the enum itself is slow in this hot path


def shown_emails(raw: str | None) -> frozenset[str]:
    """The emails a display (or an old text team) lists: ``Name <email>`` or bare emails."""
    emails = set()
    for part in (raw or "").split(";"):
        text = part.strip()
        if text.endswith(">") and "<" in text:
            text = text[text.rindex("<") + 1 : -1]
        if text.strip():
            emails.add(text.strip().lower())
    return frozenset(emails)


def member_ids(spec: FieldMapping, side: Side, record: DealRecord) -> frozenset[str]:
    """The owner ids ``record`` names as members on ``side``: collaborators, deal owner."""
    raw = record.properties.get(spec.property_on(side))  # owner ids, ";"-joined
    found = {part.strip() for part in raw.split(";")} - {""} if raw else set()
    owner_property = spec.team.owner(side) if spec.team is not None else None
    if owner_property and (owner := (record.properties.get(owner_property) or "").strip()):
        found.add(owner)
    return frozenset(found)


def team_ids(mapping: SyncMapping, side: Side, record: DealRecord) -> frozenset[str]:
    """Every owner id ``record`` names in ``mapping``'s deal-team fields."""
    found: frozenset[str] = frozenset()
    for spec in mapping.fields:
        if spec.team is not None:
            found |= member_ids(spec, side, record)
    return found


def reconcile_team(spec: FieldMapping, partner: DealRecord, rep: DealRecord, out: Builder) -> None:
    """Show the whole team on both sides (see the module docstring); seed when there is no
    team base yet."""
    records: dict[Side, DealRecord | None] = {Side.PARTNER: partner, Side.REP: rep}
    stored = out.old.get(spec.name)
    old = stored if isinstance(stored, Team) else None
    members = {s: _members(spec, s, records[s], out.directory) for s in _SIDES}
    seeded = _seed_all(spec, records, members, out) if old is None else {}
    _show(spec, records, members, old, seeded=seeded, out=out)


def create_team(spec: FieldMapping, origin: DealRecord, origin_side: Side, out: Builder) -> None:
    """A counterpart's team: the origin's members, plus its text team seeded into both deals'
    collaborators, shown on both."""
    records: dict[Side, DealRecord | None] = {origin_side: origin, origin_side.other: None}
    members = {s: _members(spec, s, records[s], out.directory) for s in Side}
    seeded = _seed_all(spec, records, members, out)
    _show(spec, records, members, None, seeded=seeded, out=out)


def _seed_all(
    spec: FieldMapping,
    records: Mapping[Side, DealRecord | None],
    members: dict[Side, Members],
    out: Builder,
) -> dict[Side, list[str]]:
    """Seed both sides' collaborators from the pair's text team (the emails either display
    lists: the two are equal after a text-team sync), then report who could not be seeded.
    Returns the emails seeded per side."""
    assert spec.team is not None  # noqa: S101 - only deal_team fields get here
    team = spec.team
    written = frozenset().union(
        *(shown_emails(r.properties.get(team.display(s))) for s, r in records.items() if r)
    )
    seeded: dict[Side, list[str]] = {}
    for side in Side:
        before = members[side].keys()
        members[side] = _seed(spec, side, records[side], written, members, out=out)
        if added := sorted(members[side].keys() - before):
            seeded[side] = added
    dropped = written - members[Side.PARTNER].keys() - members[Side.REP].keys()
    for side, record in records.items():
        named = shown_emails(record.properties.get(team.display(side))) if record else frozenset()
        if named & dropped:
            why = _reason(
                members,
                None,
                f"first sync as a deal team: the {side}'s text team names {sorted(named & dropped)}"
                ", who are active users of neither account: not seeded, left off the team",
            )
            out.reverted.append(OwnedSetRevert(spec.name, side, named & dropped, frozenset(), why))
    return seeded


def _members(
    spec: FieldMapping, side: Side, record: DealRecord | None, directory: Directory
) -> Members:
    if record is None:
        return {}
    people = directory.people(side)
    found: Members = {}
    for owner_id in member_ids(spec, side, record):
        person = people.get(owner_id)
        if person is not None and person.active:
            found[person.email] = person
    return found


def _seed(
    spec: FieldMapping,
    side: Side,
    record: DealRecord | None,
    written: frozenset[str],
    members: Mapping[Side, Members],
    *,
    out: Builder,
) -> Members:
    """``side``'s members after adding the text team's active users of ``side``'s account
    (not yet on the team) to its collaborators. ``record`` is None for a deal being created."""
    on_team = members[Side.PARTNER].keys() | members[Side.REP].keys()
    people = out.directory.people(side)
    active = {p.email: p for p in people.values() if p.active}
    seeds = {e: active[e] for e in sorted(written - on_team) if e in active}
    if not seeds:
        return dict(members[side])
    raw = record.properties.get(spec.property_on(side)) if record is not None else None
    current = spec.codec(side).read(raw)
    named = current if isinstance(current, frozenset) else frozenset()
    kept = {i for i in named if _active(people.get(i))}
    ids = frozenset(kept | {p.id for p in seeds.values()})
    out.updates.setdefault(side, {})[spec.property_on(side)] = spec.codec(side).write(ids)
    return {**members[side], **seeds}


def _active(person: Person | None) -> bool:
    return person is not None and person.active


def _show(
    spec: FieldMapping,
    records: Mapping[Side, DealRecord | None],
    members: Mapping[Side, Members],
    old: Team | None,
    *,
    seeded: Mapping[Side, list[str]],
    out: Builder,
) -> None:
    """Write the derived display wherever it differs; report a person's edit to it. One
    change per side records the display written and the collaborators seeded there."""
    assert spec.team is not None  # noqa: S101 - only deal_team fields get here
    everyone = members[Side.REP] | members[Side.PARTNER]
    text = ";".join([everyone[e].shown for e in sorted(everyone)])
    team = Team(frozenset(members[Side.PARTNER]), frozenset(members[Side.REP]))
    for side in _SIDES:
        record = records[side]
        prop = spec.team.display(side)
        raw = (record.properties.get(prop) or "").strip() if record is not None else ""
        if raw == text and side not in seeded:
            continue
        shown = shown_emails(raw)
        did = _undo_edit(spec, side, raw, members, old, out=out)
        if side in seeded:
            did.append(f"the text team seeds the {side}'s collaborators {seeded[side]}")
        if raw != text:
            out.updates.setdefault(side, {})[prop] = text
            did.append(f"write the team (both accounts' members) to the {side}")
        why = _reason(
            members, old, ("first sync as a deal team: " if old is None else "") + "; ".join(did)
        )
        change = FieldChange(
            spec.name, side, shown or None, team.everyone or None, "owned_set", why
        )
        out.changes.append(change)
    out.base[spec.name] = team


def _undo_edit(
    spec: FieldMapping,
    side: Side,
    raw: str,
    members: Mapping[Side, Members],
    old: Team | None,
    *,
    out: Builder,
) -> list[str]:
    """Report a person's edit to ``side``'s display (it differs from the team last shown)."""
    shown = shown_emails(raw)
    if old is None or shown == old.everyone:
        return []
    added, removed = shown - old.everyone, old.everyone - shown
    why = _reason(members, old, f"the {side} edited the team display: {raw!r}; restored")
    out.reverted.append(OwnedSetRevert(spec.name, side, added, removed, why))
    return [f"undo a person's edit to the {side}'s team display"]


def _reason(members: Mapping[Side, Members], old: Team | None, decision: str) -> Reason:
    return Reason(
        rule="owned_set",
        decision=decision,
        partner_value=format_value(frozenset(members[Side.PARTNER]) or None),
        rep_value=format_value(frozenset(members[Side.REP]) or None),
        base_value=format_value(old),
        has_base=old is not None,
    )
