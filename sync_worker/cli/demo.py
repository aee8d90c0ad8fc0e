"""``make demo``: the real worker, over real HTTP, against two local sandbox CRMs.

1. start the sandbox (a partner portal and a rep portal, seeded with a few hundred shared deals);
2. run a first cycle (links every shared deal, creates missing counterparts) and an idle one;
3. make edits on both sides as people would: a conflicting amount edit, a deal collaborator
   added on each side (and a rep user typed into the partner's team display, which is
   restored), a product-interest change, a close-date change, and a new shared deal on each side;
4. run again and show what synced and why (the audit log the worker wrote), then ``explain`` one
   deal, then an idle cycle proving nothing echoes;
5. start the daemon with webhooks: an edit in the partner portal reaches the rep in about a
   second (:mod:`.demo_webhooks`);
6. print where the web console is; with ``--keep-open`` serve it (the daemon keeps syncing the
   sandbox) until Ctrl-C.

State is a SQLite file (the config's ``worker.state_url``), emptied first: the sandbox starts
fresh on every demo, so state from an earlier demo would describe deals that no longer exist.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

from rich.console import Console
from rich.table import Table

from hubspot_sandbox import Portal, Sandbox, SandboxServer, demo_portals, seed_demo
from sync_worker.cli.demo_console import keep_open, point_to_console
from sync_worker.cli.demo_webhooks import set_demo_webhook_secrets, webhook_step
from sync_worker.cli.tables import cycle_table, explanation_tables, fitted, planned_table
from sync_worker.kernel.errors import ConfigError
from sync_worker.kernel.model import Side
from sync_worker.ops.explain import explain
from sync_worker.runtime.config import LoadedConfig, load_config
from sync_worker.runtime.logging import configure_logging
from sync_worker.runtime.wiring import Runtime, runtime_for
from sync_worker.service.rounds import run_round
from sync_worker.sync.context import PairContext
from sync_worker.sync.engine import CycleReport

DEMO_TOKENS = {"partner": "demo-partner-token", "rep": "demo-rep-token"}
FOREIGN_REP_USER = "paula.partnermgr@hubspot.example"
COLLABORATORS, TEAM_DISPLAY = "hs_all_collaborator_owner_ids", "shared_deal_team"


@dataclass(frozen=True, slots=True)
class Scenario:
    title: str
    partner_id: str
    field: str


def run_demo(config_path: Path, *, stay: bool = False) -> int:
    """Run the demo; return the process exit code."""
    out = Console(highlight=False)
    for name, token in DEMO_TOKENS.items():
        os.environ.setdefault(f"SYNC_WORKER_ENDPOINTS__{name.upper()}__TOKEN", token)
    set_demo_webhook_secrets()
    try:
        loaded = load_config(config_path)
        host, port = _sandbox_address(loaded)
        _reset_state(loaded, out)
    except ConfigError as error:
        for problem in error.problems:
            out.print(f"config error: {problem}")
        return 2
    configure_logging(fmt="auto", level="warning", secrets=loaded.secret_values())
    tier = loaded.settings.endpoints["partner"].rate_limit_tier
    sandbox = Sandbox(demo_portals(tier=tier))
    seed_demo(sandbox, deals=300)
    try:
        server = SandboxServer(sandbox, host=host, port=port)
    except OSError as exc:
        out.print(
            f"demo error: cannot serve the sandbox on {host}:{port} ({exc.strerror}); stop what "
            "uses that port or change endpoints.*.base_url in the config"
        )
        return 2
    with server, runtime_for(loaded) as rt:
        out.rule("sync-worker demo")
        out.print(f"sandbox CRMs: {server.base_url('partner')}  and  {server.base_url('rep')}")
        code = _story(out, rt, sandbox, loaded)
        if not stay:
            point_to_console(out, loaded)
            return code
        return keep_open(out, rt) or code


def _story(out: Console, rt: Runtime, sandbox: Sandbox, loaded: LoadedConfig) -> int:
    ctx = next(iter(rt.pairs.values()))
    cycle = partial(_cycle, out, rt, ctx.name)
    first = cycle("1. first sync: link every shared deal, create missing counterparts")
    cycle("2. idle cycle: nothing changed, nothing to do")
    out.rule("3. people edit deals on both sides")
    scenarios = _edit(out, sandbox, ctx.mapping.links.partner)
    worker = loaded.settings.worker
    configure_logging(fmt="auto", level="info", secrets=loaded.secret_values())
    out.print("[dim]structured log events of the next cycle (stderr):[/dim]")
    second = cycle("4. sync the edits")
    configure_logging(fmt="auto", level=worker.log_level, secrets=loaded.secret_values())
    _show_scenarios(out, ctx, sandbox, scenarios, second.run_id)
    out.rule(f"5. sync-worker explain --pair {ctx.name} {scenarios[0].partner_id}")
    for item in explanation_tables(explain(ctx, scenarios[0].partner_id)):
        out.print(fitted(item, out) if isinstance(item, Table) else item)
    third = cycle("6. idle again: the worker's own writes come back and plan nothing")
    crossed = webhook_step(out, rt, sandbox, ctx.mapping.links.partner)
    failed = any(r.failed for r in (first, second, third)) or not crossed
    out.rule("demo finished" + (" with failures" if failed else ""))
    return 1 if failed else 0


def _cycle(out: Console, rt: Runtime, pair: str, title: str) -> CycleReport:
    """A round of the one pair: rep discovery, then its cycle."""
    out.rule(title)
    (report,) = run_round(rt, [pair]).cycles
    out.print(fitted(cycle_table([report]), out))
    return report


def _linked_partner_deals(partner: Portal, link_property: str) -> list[dict[str, str | None]]:
    deals = [d for d in partner.deals() if d.get(link_property)]
    return sorted(deals, key=lambda d: int(d["hs_object_id"] or 0))


def _edit(out: Console, sandbox: Sandbox, link_property: str) -> list[Scenario]:
    partner, rep = sandbox.portal("partner"), sandbox.portal("rep")
    a, b, c, d = _linked_partner_deals(partner, link_property)[:4]

    def rep_id(deal: dict[str, str | None]) -> str:
        return str(deal[link_property])

    pid = [str(x["hs_object_id"]) for x in (a, b, c, d)]
    partner.edit_deal(pid[0], {"amount": "12000"})
    time.sleep(0.05)  # the rep's edit is the newer one
    rep.edit_deal(rep_id(a), {"amount": "15000"})
    out.print(f"- conflict: partner sets deal {pid[0]} amount 12000, then the rep sets 15000")

    _team_edits(out, partner, rep, pid[1], rep_id(b))

    products = _members((rep.get_deal(rep_id(c)) or {}).get("product_interest"), lower=False)
    rep.edit_deal(
        rep_id(c), {"product_interest": ";".join(sorted(products | {"Marketing Hub Professional"}))}
    )
    out.print(f"- product interest: the rep adds Marketing Hub Professional to deal {rep_id(c)}")

    partner.edit_deal(pid[3], {"closedate": "2027-03-31T00:00:00.000Z"})
    out.print(f"- close date: the partner moves deal {pid[3]} to 2027-03-31")

    new_partner = partner.create_deal(
        {
            "dealname": "Initech - CRM rollout",
            "amount": "48000",
            "closedate": "2027-02-28T00:00:00.000Z",
            "shared_deal_team": "ada.lovelace@agency.example",
            "product_interest": "Sales Hub Enterprise",
        }
    )
    partner.register_deal(new_partner)
    out.print(f"- the partner registers a new shared deal {new_partner}")
    new_rep = rep.create_deal(
        {
            "dealname": "Globex - Service Hub",
            "amount": "9000",
            "shared_partner_account": "agency-001",
            "shared_deal_team": "rita.rep@hubspot.example",
            "product_interest": "Service Hub Professional",
        }
    )
    out.print(f"- the rep refers a new deal {new_rep} to the partner")
    return [
        Scenario("conflicting amount edits (newest wins)", pid[0], "amount"),
        Scenario("deal team: a collaborator added on each side", pid[1], "deal_team"),
        Scenario("product interest changed by the rep", pid[2], "product_interest"),
        Scenario("close date changed by the partner", pid[3], "closedate"),
        Scenario("new registration on the partner side", new_partner, "dealname"),
        Scenario(f"new referral on the rep side (rep deal {new_rep})", new_rep, "pipeline"),
    ]


def _team_edits(out: Console, partner: Portal, rep: Portal, partner_id: str, rep_id: str) -> None:
    """Each side adds one of its own users as a deal collaborator; the partner also types a
    rep user into the team display, which the worker restores."""
    for portal, deal_id in ((partner, partner_id), (rep, rep_id)):
        deal = portal.get_deal(deal_id) or {}
        chosen = _members(deal.get(COLLABORATORS), lower=False)
        newcomer = next(o for o in portal.owners if o.id not in chosen and not o.archived)
        portal.edit_deal(deal_id, {COLLABORATORS: ";".join(sorted(chosen | {newcomer.id}))})
        out.print(
            f"- deal team: the {portal.name} adds its own {newcomer.email} as a collaborator "
            f"of deal {deal_id}"
        )
    shown = (partner.get_deal(partner_id) or {}).get(TEAM_DISPLAY) or ""
    partner.edit_deal(partner_id, {TEAM_DISPLAY: f"{shown};{FOREIGN_REP_USER}"})
    out.print(f"- deal team: someone types the rep's {FOREIGN_REP_USER} into the partner's team")


def _members(raw: str | None, *, lower: bool = True) -> set[str]:
    items = {m.strip() for m in (raw or "").split(";") if m.strip()}
    return {m.lower() for m in items} if lower else items


def _show_scenarios(
    out: Console, ctx: PairContext, sandbox: Sandbox, scenarios: list[Scenario], run_id: str
) -> None:
    for scenario in scenarios:
        link = ctx.store.find_link(ctx.name, scenario.partner_id)
        if link is None:
            out.print(f"[red]{scenario.title}: not linked[/red]")
            continue
        changes = [
            c for c in ctx.store.changes_for(ctx.name, link.partner_id) if c.run_id == run_id
        ]
        out.print(
            fitted(planned_table(changes, title=f"{scenario.title}: what synced and why"), out)
        )
        out.print(fitted(_values(ctx, sandbox, link.partner_id, link.rep_id, scenario.field), out))


def _values(ctx: PairContext, sandbox: Sandbox, partner_id: str, rep_id: str, field: str) -> Table:
    spec = ctx.mapping.field(field)
    partner = sandbox.portal("partner").get_deal(partner_id) or {}
    rep = sandbox.portal("rep").get_deal(rep_id) or {}
    table = Table(title=f"now, partner deal {partner_id} / rep deal {rep_id}")
    for column in ("property", "partner", "rep"):
        table.add_column(column)
    names = (spec.partner, *spec.extra_properties(Side.PARTNER), "pipeline", "dealstage")
    portals = (sandbox.portal("partner"), sandbox.portal("rep"))
    for name in dict.fromkeys(names):
        shown = [
            _readable(name, deal.get(name), portal)
            for deal, portal in zip((partner, rep), portals, strict=True)
        ]
        table.add_row(name, *shown)
    return table


def _readable(name: str, value: str | None, portal: Portal) -> str:
    """Owner ids as their users' emails; the team display one member per line."""
    if name == COLLABORATORS and value:
        emails = {o.id: o.email for o in portal.owners}
        return "\n".join(emails.get(i, i) for i in value.split(";") if i)
    if name == TEAM_DISPLAY and value:
        return value.replace(";", "\n")
    return str(value)


def _sandbox_address(loaded: LoadedConfig) -> tuple[str, int]:
    endpoints = loaded.settings.endpoints
    if set(endpoints) != {"partner", "rep"}:
        raise ConfigError("the demo needs exactly two endpoints named partner and rep")
    addresses = set()
    for name, endpoint in endpoints.items():
        url = urlsplit(endpoint.base_url)
        if url.hostname not in ("127.0.0.1", "localhost") or url.path.rstrip("/") != f"/{name}":
            raise ConfigError(
                f"endpoints.{name}.base_url: the demo serves http://127.0.0.1:PORT/{name} "
                f"itself, not {endpoint.base_url}"
            )
        addresses.add((url.hostname, url.port or 80))
    if len(addresses) != 1:
        raise ConfigError("the demo serves both portals from one address; use the same host:port")
    host, port = addresses.pop()
    return str(host), port


def _reset_state(loaded: LoadedConfig, out: Console) -> None:
    url = loaded.settings.worker.state_url
    if not url.startswith("sqlite:///"):
        raise ConfigError("worker.state_url: the demo keeps its state in a SQLite file")
    path = Path(url.removeprefix("sqlite:///"))
    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if stale.exists():
            stale.unlink()
    out.print(f"state: a fresh SQLite file at {path}")
