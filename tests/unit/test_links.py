"""Link property values: the rep CRM's name the partner account, so accounts never collide."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync_worker.kernel.errors import ConfigError
from sync_worker.kernel.model import Side
from sync_worker.rules.mapping import LinkFormat, load_mapping
from tests.unit.support import default_mapping


def test_the_default_mapping_names_the_account_on_rep_links_only() -> None:
    mapping = default_mapping()
    assert mapping.link_value(Side.REP, "1001") == "acme:1001"
    assert mapping.link_value(Side.PARTNER, "5001") == "5001"
    assert mapping.counterpart_id(Side.REP, "acme:1001") == "1001"
    assert mapping.counterpart_id(Side.PARTNER, "5001") == "5001"


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("acme:1001", "1001"),
        ("1001", "1001"),  # a bare id (written before the template, or by hand) is still read
        ("globex:1001", None),  # another account's link is not this pair's
        ("acme:", None),
        ("", None),
        (None, None),
    ],
)
def test_reading_rep_links(stored: str | None, expected: str | None) -> None:
    assert default_mapping().counterpart_id(Side.REP, stored) == expected


def test_a_template_round_trips() -> None:
    fmt = LinkFormat.of("p-{id}-x")
    assert fmt.render("42") == "p-42-x"
    assert fmt.parse("p-42-x") == "42"
    assert fmt.parse("q-42-x") is None


def test_a_template_without_id_is_refused(tmp_path: Path) -> None:
    text = default_mapping_text().replace('rep_value = "{partner_account}:{id}"', 'rep_value = "x"')
    path = tmp_path / "m.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_mapping(path, context={"partner_account": "acme"})
    assert any("links.rep_value" in p and "must contain {id}" in p for p in info.value.problems), (
        info.value.problems
    )


def default_mapping_text() -> str:
    from sync_worker.mappings import builtin_mapping_path

    return builtin_mapping_path("hubspot_shared_deals").read_text(encoding="utf-8")
