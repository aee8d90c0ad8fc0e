"""``check`` for a deal team: the owners (deactivated ones too) must be readable, and the team
display must be a writable text property."""

from __future__ import annotations

from sync_worker.connectors.base import PropertyDef
from sync_worker.ops.probe import probe_pair
from tests.engine.conftest import World


def test_the_default_mapping_passes_the_probe(world: World) -> None:
    assert probe_pair(world.ctx) == []


def test_a_team_display_that_is_not_text_is_reported(world: World) -> None:
    world.rep.define_property(PropertyDef("shared_deal_team", "enumeration", "checkbox", ("x",)))

    problem = (
        "rep (rep): team display 'shared_deal_team' is of type 'enumeration'; it must be a text "
        "property (type string) to hold the team's names and emails"
    )
    assert probe_pair(world.ctx) == [problem]


def test_a_read_only_team_display_is_reported(world: World) -> None:
    world.partner.define_property(PropertyDef("shared_deal_team", "string", read_only=True))

    assert probe_pair(world.ctx) == [
        "partner (partner): property 'shared_deal_team' is read-only but the mapping writes it"
    ]
