"""The owned-set merge: each account decides its own members; shared ones merge three-way."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sync_worker.kernel.model import Side
from sync_worker.rules.owned_set import merge_owned_set
from sync_worker.rules.plan import Directory

PIA, PETE = "pia@agency.test", "pete@agency.test"
RITA, ROB = "rita@hubspot.test", "rob@hubspot.test"
DUAL, GUEST = "dual@both.test", "guest@else.test"
DIRECTORY = Directory(partner=frozenset({PIA, PETE, DUAL}), rep=frozenset({RITA, ROB, DUAL}))
OWNED = {
    Side.PARTNER: DIRECTORY.partner - DIRECTORY.rep,
    Side.REP: DIRECTORY.rep - DIRECTORY.partner,
}
TEAMS = st.frozensets(st.sampled_from([PIA, PETE, RITA, ROB, DUAL, GUEST]))


def test_directory_from_emails_normalises() -> None:
    directory = Directory.from_emails([" Pia@Agency.test", ""], ["RITA@hubspot.test"])
    assert directory == Directory(partner=frozenset({PIA}), rep=frozenset({RITA}))


def test_directory_owner() -> None:
    assert DIRECTORY.owner(PIA) is Side.PARTNER
    assert DIRECTORY.owner(RITA) is Side.REP
    assert DIRECTORY.owner(DUAL) is None
    assert DIRECTORY.owner(GUEST) is None


def test_first_sync_takes_each_sides_own_members_and_reverts_foreign_additions() -> None:
    merge = merge_owned_set(frozenset({PIA, ROB}), frozenset({RITA}), frozenset(), DIRECTORY)
    assert merge.result == frozenset({PIA, RITA})
    assert merge.reverted(Side.PARTNER) == (frozenset({ROB}), frozenset())
    assert merge.reverted(Side.REP) == (frozenset(), frozenset())


def test_a_side_removing_a_foreign_member_is_restored() -> None:
    base = frozenset({PIA, RITA})
    merge = merge_owned_set(frozenset({PIA}), frozenset({RITA}), base, DIRECTORY)
    assert merge.result == base
    assert merge.reverted(Side.PARTNER) == (frozenset(), frozenset({RITA}))
    assert merge.reverted(Side.REP) == (frozenset(), frozenset({PIA}))


def test_shared_members_either_side_adds_or_removes() -> None:
    base = frozenset({DUAL})
    merge = merge_owned_set(frozenset({DUAL, GUEST}), frozenset(), base, DIRECTORY)
    assert merge.result == frozenset({GUEST})
    assert merge.reverted(Side.PARTNER) == merge.reverted(Side.REP) == (frozenset(), frozenset())


@given(TEAMS, TEAMS, TEAMS)
def test_own_members_are_exactly_as_their_owner_has_them(
    partner: frozenset[str], rep: frozenset[str], base: frozenset[str]
) -> None:
    result = merge_owned_set(partner, rep, base, DIRECTORY).result
    assert result & OWNED[Side.PARTNER] == partner & OWNED[Side.PARTNER]
    assert result & OWNED[Side.REP] == rep & OWNED[Side.REP]


@given(TEAMS, TEAMS, TEAMS)
def test_foreign_edits_never_survive_and_are_reported(
    partner: frozenset[str], rep: frozenset[str], base: frozenset[str]
) -> None:
    merge = merge_owned_set(partner, rep, base, DIRECTORY)
    for side, mine, theirs in ((Side.PARTNER, partner, rep), (Side.REP, rep, partner)):
        foreign = OWNED[side.other]
        added = (mine - theirs - base) & foreign
        removed = ((theirs & base) - mine) & foreign
        assert merge.reverted(side) == (added, removed)
        assert not added & merge.result
        assert removed <= merge.result


@given(TEAMS, TEAMS, TEAMS)
def test_shared_members_merge_three_way(
    partner: frozenset[str], rep: frozenset[str], base: frozenset[str]
) -> None:
    result = merge_owned_set(partner, rep, base, DIRECTORY).result
    shared = frozenset({DUAL, GUEST})
    kept = partner & rep & base & shared
    added = ((partner | rep) - base) & shared
    assert result & shared == kept | added


@given(TEAMS, TEAMS)
def test_merging_an_agreed_set_changes_nothing(team: frozenset[str], base: frozenset[str]) -> None:
    merge = merge_owned_set(team, team, base, DIRECTORY)
    assert merge.result == team
    assert merge.reverted(Side.PARTNER) == merge.reverted(Side.REP) == (frozenset(), frozenset())
