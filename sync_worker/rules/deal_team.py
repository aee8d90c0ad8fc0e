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
a list) has its display read as each side's *text team*: the emails in a side's display that
are active users of that side's account and not on the team yet are added to that side's
collaborators (the only time the worker writes collaborators; it then writes only active owner
ids, as HubSpot accepts no others). Emails that end up on neither side are dropped from the
team and reported, as reverts of that side's text.
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
    ids = spec.codec(side).read(record.properties.get(spec.property_on(side)))
    found = set(ids) if isinstance(ids, frozenset) else set()
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
    members = {s: _members(spec, s, records[s], out.directory) for s in Side}
    if old is None:
        for side in Side:
            members[side] = _seed(spec, side, records, members, out)
        _report_dropped(spec, records, members, out)
    _show(spec, records, members, old, out)


def create_team(spec: FieldMapping, origin: DealRecord, origin_side: Side, out: Builder) -> None:
    """A counterpart's team: the origin's members (seeded from its text team) shown on both."""
    records: dict[Side, DealRecord | None] = {origin_side: origin, origin_side.other: None}
    members = {origin_side: _members(spec, origin_side, origin, out.directory)}
    members[origin_side.other] = {}
    members[origin_side] = _seed(spec, origin_side, records, members, out)
    _report_dropped(spec, records, members, out)
    _show(spec, records, members, None, out)


def _members(
    spec: FieldMapping, side: Side, record: DealRecord | None, directory: Directory
) -> Members:
    if record is None:
        return {}
    people = directory.people(side)
    found: Members = {}
    for owner_id in sorted(member_ids(spec, side, record)):
        person = people.get(owner_id)
        if person is not None and person.active:
            found[person.email] = person
    return found


def _seed(
    spec: FieldMapping,
    side: Side,
    records: Mapping[Side, DealRecord | None],
    members: Mapping[Side, Members],
    out: Builder,
) -> Members:
    """``side``'s members after seeding its collaborators from its display's text team."""
    record = records[side]
    assert spec.team is not None  # noqa: S101 - only deal_team fields get here
    if record is None:
        return dict(members[side])
    written = shown_emails(record.properties.get(spec.team.display(side)))
    on_team = members[Side.PARTNER].keys() | members[Side.REP].keys()
    people = out.directory.people(side)
    active = {p.email: p for p in people.values() if p.active}
    seeds = {e: active[e] for e in sorted(written - on_team) if e in active}
    if not seeds:
        return dict(members[side])
    current = spec.codec(side).read(record.properties.get(spec.property_on(side)))
    named = current if isinstance(current, frozenset) else frozenset()
    kept = {i for i in named if _active(people.get(i))}
    ids = frozenset(kept | {p.id for p in seeds.values()})
    new = {**members[side], **seeds}
    why = _reason(
        members,
        None,
        f"first sync as a deal team: the {side}'s text team seeds its collaborators "
        f"{sorted(seeds)}",
    )
    out.updates.setdefault(side, {})[spec.property_on(side)] = spec.codec(side).write(ids)
    old_emails, new_emails = frozenset(members[side]) or None, frozenset(new)
    out.changes.append(FieldChange(spec.name, side, old_emails, new_emails, "owned_set", why))
    return new


def _report_dropped(
    spec: FieldMapping,
    records: Mapping[Side, DealRecord | None],
    members: Mapping[Side, Members],
    out: Builder,
) -> None:
    """Emails of a side's text team that ended up on neither side (not an active user of the
    account whose text named them, nor a member through the other side) are reported."""
    assert spec.team is not None  # noqa: S101 - only deal_team fields get here
    team = members[Side.PARTNER].keys() | members[Side.REP].keys()
    for side, record in records.items():
        if record is None:
            continue
        dropped = shown_emails(record.properties.get(spec.team.display(side))) - team
        if dropped:
            why = _reason(
                members,
                None,
                f"first sync as a deal team: the {side}'s text team names {sorted(dropped)}, "
                f"who are not active users of the {side} account: not seeded, left off the team",
            )
            out.reverted.append(OwnedSetRevert(spec.name, side, dropped, frozenset(), why))


def _active(person: Person | None) -> bool:
    return person is not None and person.active


def _show(
    spec: FieldMapping,
    records: Mapping[Side, DealRecord | None],
    members: Mapping[Side, Members],
    old: Team | None,
    out: Builder,
) -> None:
    """Write the derived display wherever it differs; report a person's edit to it."""
    assert spec.team is not None  # noqa: S101 - only deal_team fields get here
    everyone = {**members[Side.REP], **members[Side.PARTNER]}
    text = ";".join(everyone[e].shown() for e in sorted(everyone))
    team = Team(frozenset(members[Side.PARTNER]), frozenset(members[Side.REP]))
    for side in Side:
        record = records[side]
        prop = spec.team.display(side)
        raw = (record.properties.get(prop) or "").strip() if record is not None else ""
        if raw == text:
            continue
        shown = shown_emails(raw)
        if old is not None and shown != old.everyone:
            added, removed = shown - old.everyone, old.everyone - shown
            why = _reason(members, old, f"the {side} edited the team display: {raw!r}; restored")
            out.reverted.append(OwnedSetRevert(spec.name, side, added, removed, why))
        why = _reason(members, old, f"write the team (both accounts' members) to the {side}")
        out.updates.setdefault(side, {})[prop] = text
        change = FieldChange(
            spec.name, side, shown or None, team.everyone or None, "owned_set", why
        )
        out.changes.append(change)
    out.base[spec.name] = team


def _reason(members: Mapping[Side, Members], old: Team | None, decision: str) -> Reason:
    return Reason(
        rule="owned_set",
        decision=decision,
        partner_value=format_value(frozenset(members[Side.PARTNER]) or None),
        rep_value=format_value(frozenset(members[Side.REP]) or None),
        base_value=format_value(old),
        has_base=old is not None,
    )
