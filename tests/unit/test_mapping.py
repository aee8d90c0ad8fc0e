"""Loading mapping files: the shipped default, and a clear message for every kind of mistake."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sync_worker.connectors.base import Filter
from sync_worker.kernel.errors import ConfigError
from sync_worker.kernel.model import Side
from sync_worker.mappings import builtin_mapping_names, builtin_mapping_path
from sync_worker.rules.mapping import (
    Direction,
    Rule,
    SyncMapping,
    TeamProperties,
    compile_mapping,
    load_mapping,
)
from tests.unit.support import CONTEXT, default_mapping, mapping_data, text_team_mapping

VALID = """
[mapping]
name = "t"
[links]
partner_property = "rep_deal_id"
rep_property = "partner_deal_id"
[fields.amount]
type = "number"
partner = "amount"
rep = "amount"
direction = "both"
rule = "newest_wins"
"""


def problems_of(data: dict[str, Any], context: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        compile_mapping(data, context=context, source="m.toml")
    assert all(
        str(caught.value).splitlines()[i].startswith("m.toml: ")
        for i in range(len(caught.value.problems))
    )
    return caught.value.problems


def test_every_shipped_mapping_loads() -> None:
    assert "hubspot_shared_deals" in builtin_mapping_names()
    for name in builtin_mapping_names():
        assert load_mapping(builtin_mapping_path(name), context=CONTEXT).fields


def test_default_mapping_encodes_the_product_table() -> None:
    mapping = default_mapping()
    assert (mapping.links.partner, mapping.links.rep) == ("rep_deal_id", "partner_deal_id")
    assert mapping.origins == frozenset(Side)
    assert mapping.scope(Side.PARTNER) == (
        Filter("hs_num_associated_active_deal_registrations", "GT", "0"),
    )
    assert mapping.scope(Side.REP) == (Filter("shared_partner_account", "EQ", "acme"),)
    assert mapping.create_constants(Side.REP) == {"shared_partner_account": "acme"}
    rows = {f.name: (f.type.value, f.partner, f.rep, f.direction, f.rule) for f in mapping.fields}
    assert rows == {
        "dealname": ("string", "dealname", "dealname", Direction.BOTH, Rule.SET_ON_CREATE),
        "pipeline": ("enum", "pipeline", "pipeline", Direction.REP_TO_PARTNER, Rule.SET_ON_CREATE),
        "dealstage": ("enum", "dealstage", "dealstage", Direction.NONE, Rule.SET_ON_CREATE),
        "product_interest": (
            "multi_enum",
            "product_interest",
            "product_interest",
            Direction.BOTH,
            Rule.NEWEST_WINS,
        ),
        "closedate": ("datetime", "closedate", "closedate", Direction.BOTH, Rule.NEWEST_WINS),
        "amount": ("number", "amount", "amount", Direction.BOTH, Rule.NEWEST_WINS),
        "deal_team": (
            "deal_team",
            "hs_all_collaborator_owner_ids",
            "hs_all_collaborator_owner_ids",
            Direction.BOTH,
            Rule.OWNED_SET,
        ),
    }
    team = mapping.field("deal_team").team
    assert team == TeamProperties("shared_deal_team", "shared_deal_team")  # owner not counted
    pipeline = mapping.field("pipeline")
    assert (pipeline.default(Side.PARTNER), pipeline.default(Side.REP)) == (
        "referred_deals",
        "default",
    )
    stage = mapping.field("dealstage")
    assert (stage.default(Side.PARTNER), stage.default(Side.REP)) == (
        "referred_new",
        "appointmentscheduled",
    )
    assert mapping.properties(Side.PARTNER)[0] == "rep_deal_id"
    assert {"shared_deal_team", "hs_all_collaborator_owner_ids"} <= set(
        mapping.properties(Side.REP)
    )


def test_the_text_team_mapping_differs_from_the_default_only_in_the_deal_team() -> None:
    text, default = text_team_mapping(), default_mapping()
    team = text.field("deal_team")
    assert (team.type.value, team.partner, team.rep, team.rule, team.team) == (
        "user_set",
        "shared_deal_team",
        "shared_deal_team",
        Rule.OWNED_SET,
        None,
    )

    def others(mapping: SyncMapping) -> list[tuple[object, ...]]:
        return [
            (
                f.name,
                f.type,
                f.partner,
                f.rep,
                f.direction,
                f.rule,
                f.defaults.partner,
                f.defaults.rep,
            )
            for f in mapping.fields
            if f.name != "deal_team"
        ]

    assert others(text) == others(default)
    assert text.scope(Side.REP) == default.scope(Side.REP)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            {"rule": "newest_wins"},
            'fields.team.rule: type deal_team needs rule "owned_set" (got "newest_wins")',
        ),
        (
            {"display": None},
            (
                "fields.team.display: type deal_team needs display.partner and display.rep (the "
                "text property showing the whole team on each side)"
            ),
        ),
        (
            {"display": {"partner": "hs_all_collaborator_owner_ids", "rep": "team_text"}},
            (
                "fields.team.display.partner: property 'hs_all_collaborator_owner_ids' is "
                "already mapped by fields.team.partner"
            ),
        ),
        ({"default": {"rep": "1"}}, "fields.team.default: a deal_team field takes no default"),
    ],
)
def test_deal_team_field_checks(change: dict[str, Any], problem: str) -> None:
    spec: dict[str, Any] = {
        "type": "deal_team",
        "rule": "owned_set",
        "partner": "hs_all_collaborator_owner_ids",
        "rep": "hs_all_collaborator_owner_ids",
        "display": {"partner": "team_text", "rep": "team_text"},
        **change,
    }
    spec = {k: v for k, v in spec.items() if v is not None}
    data = mapping_data({"team": spec})
    assert problem in problems_of(data)


def test_display_belongs_to_deal_team_fields_only() -> None:
    data = mapping_data({"amount": {"type": "number", "display": {"partner": "a", "rep": "b"}}})
    assert problems_of(data) == [
        'fields.amount.display: only a field of type "deal_team" has display'
    ]


def test_toml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(VALID + "\n[fields.x\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken\.toml: invalid TOML: .*line 14, column 10"):
        load_mapping(path)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml: cannot read mapping file"):
        load_mapping(tmp_path / "nope.toml")


def test_a_valid_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "ok.toml"
    path.write_text(VALID, encoding="utf-8")
    assert load_mapping(path).field("amount").rule is Rule.NEWEST_WINS


def test_unknown_keys_list_the_valid_ones() -> None:
    data = mapping_data({"amount": {"type": "number", "rulez": "x"}})
    assert problems_of(data) == [
        (
            "fields.amount.rulez: unknown key; valid keys here: "
            "type, partner, rep, direction, rule, value_map, default, display, deal_owner"
        )
    ]


def test_bad_choices_list_the_valid_ones() -> None:
    data = mapping_data({"amount": {"type": "money", "rule": "newest"}})
    assert problems_of(data) == [
        (
            "fields.amount.type: Input should be 'string', 'number', 'date', 'datetime', 'enum', "
            "'multi_enum', 'user_set', 'deal_team' or 'bool' (got 'money')"
        ),
        (
            "fields.amount.rule: Input should be 'partner_wins', 'rep_wins', 'newest_wins', "
            "'set_on_create', 'owned_set' or 'manual' (got 'newest')"
        ),
    ]


def test_missing_required_keys() -> None:
    data = mapping_data({"amount": {"type": "number"}})
    del data["links"]["rep_property"]
    del data["fields"]["amount"]["rep"]
    assert problems_of(data) == [
        "links.rep_property: required key is missing",
        "fields.amount.rep: required key is missing",
    ]


def test_scope_operator_choices_and_values() -> None:
    data = mapping_data(
        {"amount": {"type": "number"}},
        scope={
            "partner": [{"property": "a", "operator": "GREATER", "value": "0"}],
            "rep": [{"property": "a", "operator": "IN", "value": "x"}],
        },
    )
    (problem,) = problems_of(data)
    assert problem.startswith("scope.partner[0].operator: Input should be 'EQ', 'NEQ', 'GT'")
    data["scope"]["partner"][0]["operator"] = "GT"
    assert problems_of(data) == ["scope.rep[0]: operator IN takes values (a list)"]


def test_owned_set_needs_a_user_set_synced_both_ways() -> None:
    data = mapping_data(
        {"team": {"type": "string", "direction": "partner_to_rep", "rule": "owned_set"}}
    )
    assert problems_of(data) == [
        'fields.team.type: rule owned_set needs type "user_set" or "deal_team" (got "string")',
        'fields.team.direction: rule owned_set needs direction "both"',
    ]


@pytest.mark.parametrize(
    ("direction", "rule", "valid"),
    [
        ("partner_to_rep", "rep_wins", "partner_wins, newest_wins, set_on_create, manual"),
        ("rep_to_partner", "partner_wins", "rep_wins, newest_wins, set_on_create, manual"),
    ],
)
def test_a_rule_the_direction_cannot_honour(direction: str, rule: str, valid: str) -> None:
    data = mapping_data({"amount": {"type": "number", "direction": direction, "rule": rule}})
    assert problems_of(data) == [
        (
            f"fields.amount.rule: {rule} cannot apply with direction {direction} "
            f"(that side's value never flows); valid rules for this direction: {valid}"
        )
    ]


def test_link_properties_and_duplicate_properties() -> None:
    data = mapping_data(
        {
            "amount": {"type": "number"},
            "amount2": {"type": "number", "partner": "amount", "rep": "partner_deal_id"},
        },
        create={"rep": {"amount": "1"}},
    )
    assert problems_of(data) == [
        "fields.amount2.partner: property 'amount' is already mapped by fields.amount.partner",
        (
            "fields.amount2.rep: 'partner_deal_id' is the link property links.rep_property; "
            "a link property cannot also be a mapped field"
        ),
        (
            "create.rep.amount: 'amount' is set by fields.amount.rep; "
            "a creation constant must name another property"
        ),
    ]


def test_value_maps_only_on_mappable_types_and_defaults_must_read() -> None:
    data = mapping_data(
        {
            "amount": {
                "type": "number",
                "value_map": {"rep": {"a": "b"}},
                "default": {"rep": "lots"},
            },
            "stage": {
                "type": "enum",
                "value_map": {"partner": {"Won": "won"}},
                "default": {"partner": "Lost"},
            },
        }
    )
    assert problems_of(data) == [
        (
            "fields.amount.value_map.rep: value maps apply only to types enum, multi_enum, string "
            '(got "number")'
        ),
        "fields.amount.default.rep: not a number: 'lots'",
        (
            "fields.stage.default.partner: unmappable: 'Lost' is not in the "
            "fields.stage.value_map.partner"
        ),
    ]


def test_unknown_placeholder_names_the_known_ones() -> None:
    data = mapping_data(
        {"amount": {"type": "number"}},
        scope={"rep": [{"property": "acct", "operator": "EQ", "value": "{partner_acount}"}]},
    )
    assert problems_of(data, context={"partner_account": "acme"}) == [
        "scope.rep[0].value: unknown placeholder {partner_acount}; known: partner_account"
    ]


def test_fields_are_required() -> None:
    data = mapping_data({})
    assert problems_of(data) == [
        "fields: Dictionary should have at least 1 item after validation, not 0"
    ]


def test_origins_scope_lists_and_placeholders_compile() -> None:
    data = mapping_data(
        {"amount": {"type": "number"}},
        origins={"rep": False},
        scope={
            "partner": [
                {"property": "stage", "operator": "IN", "values": ["a", "{partner_account}"]},
                {"property": "owner", "operator": "HAS_PROPERTY"},
            ]
        },
        create={"partner": {"source": "shared by {partner_account}"}},
    )
    mapping = compile_mapping(data, context=CONTEXT)
    assert mapping.may_originate(Side.PARTNER)
    assert not mapping.may_originate(Side.REP)
    assert mapping.scope(Side.PARTNER) == (
        Filter("stage", "IN", values=("a", "acme")),
        Filter("owner", "HAS_PROPERTY"),
    )
    assert mapping.scope(Side.REP) == ()
    assert mapping.create_constants(Side.PARTNER) == {"source": "shared by acme"}
    with pytest.raises(KeyError):
        mapping.field("nope")
