"""The CLI end to end against the sandbox: exit codes, what it prints, and what it never prints."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sync_worker.cli.app import app
from sync_worker.state import open_store
from tests.cli.conftest import PARTNER_TOKEN, REP_TOKEN, Env

runner = CliRunner(env={"COLUMNS": "200"})  # wide: these tests read table cells
WRITE_ENDPOINTS = ("batch_update", "batch_upsert", "batch_create", "update", "create", "archive")


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def writes(env: Env) -> int:
    total = 0
    for name in ("partner", "rep"):
        counters = env.sandbox.portal(name).counters
        total += sum(
            sum(by_status.values()) for ep, by_status in counters.items() if ep in WRITE_ENDPOINTS
        )
    return total


def assert_no_secret(text: str) -> None:
    assert PARTNER_TOKEN not in text
    assert REP_TOKEN not in text


def test_check_probes_the_crms(cli_env: Env) -> None:
    code, out = invoke("check", "--config", str(cli_env.config))
    assert code == 0, out
    assert "CRMs ok: credentials accepted, mapped properties present" in out
    assert_no_secret(out)


def test_check_names_a_property_the_crm_lacks(cli_env: Env) -> None:
    text = cli_env.mapping.read_text(encoding="utf-8")
    cli_env.mapping.write_text(
        text.replace('"product_interest"', '"product_intrest"'), encoding="utf-8"
    )
    code, out = invoke("check", "--config", str(cli_env.config))
    assert code == 1
    assert "pair agency-001: partner (partner): property 'product_intrest' does not exist" in out


def test_check_with_a_refused_token(cli_env: Env, clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("SYNC_WORKER_ENDPOINTS__REP__TOKEN", "pat-na1-wrong-token-9999")
    code, out = invoke("check", "--config", str(cli_env.config))
    assert code == 1
    assert "rep (rep): cannot read the CRM" in out
    assert "pat-na1-wrong-token-9999" not in out


def test_once_status_explain(cli_env: Env) -> None:
    code, out = invoke("once", "--config", str(cli_env.config))
    assert code == 0, out
    assert re.search(r"agency-001\s*│\s*ok", out), out
    assert writes(cli_env) > 0  # the first sync creates counterparts: `writes` sees real writes
    code, out = invoke("status", "--config", str(cli_env.config))
    assert code == 0
    row = next(line for line in out.splitlines() if "agency-001" in line)
    assert " ok " in row
    partner_deal = next(
        d for d in cli_env.sandbox.portal("partner").deals() if d.get("rep_deal_id")
    )
    code, out = invoke("explain", "--config", str(cli_env.config), "--pair", "agency-001",
                       str(partner_deal["hs_object_id"]))  # fmt: skip
    assert code == 0, out
    assert (
        f"partner deal {partner_deal['hs_object_id']} <-> rep deal {partner_deal['rep_deal_id']}"
        in out
    )
    assert "amount" in out
    assert "in sync: nothing to do" in out
    assert_no_secret(out)


def test_once_fails_with_exit_1_when_a_pair_fails(
    cli_env: Env, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("SYNC_WORKER_ENDPOINTS__PARTNER__TOKEN", "pat-na1-refused-0000")
    code, out = invoke("once", "--config", str(cli_env.config))
    assert code == 1
    assert "failed" in out
    assert "pat-na1-refused-0000" not in out


def test_unknown_pair_is_a_usage_error(cli_env: Env) -> None:
    code, out = invoke("once", "--config", str(cli_env.config), "--pair", "nope")
    assert code == 2
    assert "unknown pair 'nope'; configured pairs: agency-001" in out


def test_backfill_dry_run_writes_nothing_anywhere(cli_env: Env) -> None:
    before = {p: cli_env.sandbox.portal(p).deals() for p in ("partner", "rep")}
    code, out = invoke("backfill", "--config", str(cli_env.config), "--pair", "agency-001",
                       "--since", "2020-01-01", "--dry-run")  # fmt: skip
    assert code == 0, out
    assert "dry run: writes that would be made" in out
    assert "create" in out
    assert "nothing was written to either CRM or to the state store" in out
    assert writes(cli_env) == 0
    assert {p: cli_env.sandbox.portal(p).deals() for p in ("partner", "rep")} == before
    store = open_store(f"sqlite:///{cli_env.state}")
    try:
        assert store.count_links("agency-001") == 0
        assert store.status(["agency-001"])[0].last_run is None
    finally:
        store.close()


def test_backfill_rejects_a_bad_date(cli_env: Env) -> None:
    code, out = invoke("backfill", "--config", str(cli_env.config), "--pair", "agency-001",
                       "--since", "last tuesday")  # fmt: skip
    assert code == 2
    assert "is not a date" in out


def test_manual_conflict_listed_and_resolved(cli_env: Env) -> None:
    text = cli_env.mapping.read_text(encoding="utf-8")
    start = text.index("[fields.amount]")
    end = text.index("[fields.", start + 1)
    amount = re.sub(r'rule = "\w+"', 'rule = "manual"', text[start:end])
    cli_env.mapping.write_text(text[:start] + amount + text[end:], encoding="utf-8")
    assert invoke("once", "--config", str(cli_env.config))[0] == 0
    partner, rep = cli_env.sandbox.portal("partner"), cli_env.sandbox.portal("rep")
    deal = next(d for d in partner.deals() if d.get("rep_deal_id"))
    pid, rid = str(deal["hs_object_id"]), str(deal["rep_deal_id"])
    partner.edit_deal(pid, {"amount": "111"})
    rep.edit_deal(rid, {"amount": "222"})
    assert invoke("once", "--config", str(cli_env.config))[0] == 0
    code, out = invoke("conflicts", "list", "--config", str(cli_env.config))
    assert code == 0
    row = next(line for line in out.splitlines() if pid in line)
    assert all(text in row for text in ("amount", "111", "222"))
    conflict_id = row.split("│")[1].strip()
    code, out = invoke("conflicts", "resolve", conflict_id, "--config", str(cli_env.config),
                       "--pair", "agency-001", "--take", "rep")  # fmt: skip
    assert code == 0, out
    assert "resolved: rep; wrote '222' to the partner" in out
    assert partner.get_deal(pid)["amount"] == "222"  # type: ignore[index]
    code, out = invoke("conflicts", "list", "--config", str(cli_env.config))
    assert pid not in out
    assert invoke("once", "--config", str(cli_env.config))[0] == 0
    assert rep.get_deal(rid)["amount"] == "222"  # type: ignore[index]


def test_dead_letters_listed_and_retried(cli_env: Env) -> None:
    # The rep side only knows these products: "HubSpot CMS" cannot be written there.
    known = ("Sales Hub Professional", "Sales Hub Enterprise", "Marketing Hub Professional",
             "Marketing Hub Enterprise", "Service Hub Professional", "CRM Suite Starter",
             "Smart CRM Professional", "Data Hub Starter", "Commerce Hub Enterprise")  # fmt: skip
    value_map = ", ".join(f'"{p}" = "{p}"' for p in known)
    text = cli_env.mapping.read_text(encoding="utf-8").replace(
        'rep = "product_interest"', f'rep = "product_interest"\nvalue_map.rep = {{ {value_map} }}'
    )
    cli_env.mapping.write_text(text, encoding="utf-8")
    assert invoke("once", "--config", str(cli_env.config))[0] == 0
    partner = cli_env.sandbox.portal("partner")
    deal = next(d for d in partner.deals() if d.get("rep_deal_id"))
    pid = str(deal["hs_object_id"])
    partner.edit_deal(
        pid, {"product_interest": "Sales Hub Professional;HubSpot CMS", "amount": "777"}
    )
    assert invoke("once", "--config", str(cli_env.config))[0] == 0
    rep_deal = cli_env.sandbox.portal("rep").get_deal(str(deal["rep_deal_id"]))
    assert rep_deal is not None
    assert rep_deal["amount"] == "777"  # the rest of the record still synced
    code, out = invoke("dead-letters", "list", "--config", str(cli_env.config))
    assert code == 0
    # The value cannot be written to the rep deal: that record is dead-lettered, with why.
    row = next(line for line in out.splitlines() if str(deal["rep_deal_id"]) in line)
    assert "product_interest" in row
    assert "rep" in row
    code, out = invoke("dead-letters", "retry", "--config", str(cli_env.config))
    assert code == 0
    assert re.search(r"[1-9]\d* dead letter\(s\) will be retried on the next cycle", out)


def test_config_errors_never_touch_the_crms(cli_env: Env, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(cli_env.config.read_text(encoding="utf-8") + "\n[worker2]\n", encoding="utf-8")
    for command in ("once", "run", "status", "check"):
        code, out = invoke(command, "--config", str(bad))
        assert code == 2, (command, out)
        assert "worker2: unknown key" in out
    total = sum(cli_env.sandbox.portal(p).total_requests for p in ("partner", "rep"))
    assert total == 0


def test_an_unreachable_state_store_is_one_clear_line(cli_env: Env, tmp_path: Path) -> None:
    text = cli_env.config.read_text(encoding="utf-8")
    start = text.index('state_url = "')
    end = text.index("\n", start)
    dead = 'state_url = "postgresql://sync:hunter2-secret@127.0.0.1:1/state"'
    config = tmp_path / "dead-store.toml"
    config.write_text(text[:start] + dead + text[end:], encoding="utf-8")
    code, out = invoke("once", "--config", str(config))
    assert code == 1
    assert out.startswith("cannot open the state store (worker.state_url): ")
    assert "Traceback" not in out
    assert "hunter2-secret" not in out


def test_a_mapping_hubspot_search_would_refuse_exits_2_before_any_call(cli_env: Env) -> None:
    """Too many mapped properties make every search body exceed HubSpot's 3,000 characters:
    found when the mapping loads, not as a 400 in every cycle."""
    extra = "".join(
        f'\n[fields.custom_{i:02d}]\ntype = "string"\npartner = "a_long_custom_property_{i:02d}"'
        f'\nrep = "a_long_custom_property_{i:02d}"\ndirection = "both"\nrule = "partner_wins"\n'
        for i in range(90)
    )
    cli_env.mapping.write_text(
        cli_env.mapping.read_text(encoding="utf-8") + extra, encoding="utf-8"
    )
    for command in (("check", "--offline"), ("check",), ("once",)):
        code, out = invoke(*command, "--config", str(cli_env.config))
        assert code == 2, (command, out)
        assert "partner (partner): a search request would be " in out
        assert "HubSpot refuses bodies over 3000" in out
    total = sum(cli_env.sandbox.portal(p).total_requests for p in ("partner", "rep"))
    assert total == 0


def test_a_scope_hubspot_search_cannot_serve_exits_2_before_any_call(cli_env: Env) -> None:
    """HubSpot search allows 6 filters per group and the pull adds 2: the HubSpot connector's
    own check refuses a 5-filter scope when the config loads (the rules layer knows no CRM)."""
    five = ", ".join(f'{{ property = "p{i}", operator = "HAS_PROPERTY" }}' for i in range(5))
    text = cli_env.mapping.read_text(encoding="utf-8")
    start = text.index("partner = [{ property")
    end = text.index("\n", start)
    cli_env.mapping.write_text(text[:start] + f"partner = [{five}]" + text[end:], encoding="utf-8")
    code, out = invoke("check", "--offline", "--config", str(cli_env.config))
    assert code == 2, out
    assert "partner (partner): scope has 5 filters; HubSpot search allows at most 4" in out
    total = sum(cli_env.sandbox.portal(p).total_requests for p in ("partner", "rep"))
    assert total == 0
