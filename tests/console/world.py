"""A world for the console: sandbox CRMs over loopback HTTP, a config with the console on, the
runtime the daemon would build, and the edits that give a person something to settle.

Two pairs: ``agency-001`` (the seeded demo deals; ``amount`` is settled by a person, and the rep
portal refuses the product option "HubSpot CMS", so conflicts and dead letters can be made at
will) and ``agency-002`` (its own partner portal, whose token the tests can revoke). Shared by
the HTTP tests, the browser tests and ``make screenshots``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from hubspot_sandbox import Option, Portal, PortalSpec, Sandbox, SandboxServer, demo_portals
from hubspot_sandbox import seed_demo as seed_deals
from sync_worker.mappings import builtin_mapping_path
from sync_worker.runtime.config import LoadedConfig, load_config
from sync_worker.runtime.wiring import Runtime, build_runtime
from sync_worker.state.base import LinkState
from sync_worker.sync.context import PairContext
from sync_worker.sync.engine import CycleReport, run_cycle

PAIR, OTHER = "agency-001", "agency-002"
OPERATOR = ("ada", "ada-operator-passphrase")
VIEWER = ("grace", "grace-viewer-passphrase")
SESSION_SECRET = "console-test-session-secret-0123456789abcdef"
TOKENS = {
    "partner": "pat-na1-partner-console-secret",
    "rep": "pat-na1-rep-console-secret",
    "partner2": "pat-na1-partner2-console-secret",
}
PAIR_INTERVAL_SECONDS = 300
"""Cycles run when a test asks (``run_soon``), not on their own in the middle of it; a dead
letter's first retry is this far away too, so "retry now" is what makes it happen."""
REFUSED_OPTION = "Operations Hub Starter"
"""Offered by the partner portal only: the rep portal refuses it (a dead letter)."""


def _specs(tier: str) -> list[PortalSpec]:
    """The demo portals, the partner's offering one product option the rep's does not."""
    partner, rep = demo_portals(tier=tier)
    partner_properties = tuple(
        replace(p, options=(*p.options, Option(REFUSED_OPTION, REFUSED_OPTION)))
        if p.name == "product_interest"
        else p
        for p in partner.properties
    )
    partner = replace(partner, token=TOKENS["partner"], properties=partner_properties)
    return [
        partner,
        replace(rep, token=TOKENS["rep"]),
        replace(partner, name="partner2", token=TOKENS["partner2"], id_base=9_000_000),
    ]


def manual_amount_mapping(path: Path) -> Path:
    """The default mapping with ``amount`` settled by a person."""
    text = builtin_mapping_path("hubspot_shared_deals").read_text(encoding="utf-8")
    head, amount = text.split("[fields.amount]")
    section, rest = amount.split("[fields.deal_team]")
    section = section.replace('rule = "newest_wins"', 'rule = "manual"')
    path.write_text(f"{head}[fields.amount]{section}[fields.deal_team]{rest}", encoding="utf-8")
    return path


def write_config(folder: Path, server: SandboxServer, *, console_port: int = 0) -> Path:
    mapping = manual_amount_mapping(folder / "mapping.toml")
    users = folder / "console-users"
    users.write_text(
        f"# name:role:password\n{OPERATOR[0]}:operator:{OPERATOR[1]}\n"
        f"{VIEWER[0]}:viewer:{VIEWER[1]}\n",
        encoding="utf-8",
    )
    endpoints = "".join(
        f'[endpoints.{name}]\nbase_url = "{server.base_url(name)}"\n'
        'rate_limit_tier = "enterprise"\nsearch_overlap_seconds = 2\n'
        for name in TOKENS
    )
    config = folder / "config.toml"
    config.write_text(
        f"""[worker]
state_url = "sqlite:///{folder / "state.db"}"
log_format = "json"
interval_seconds = 5
jitter_seconds = 0
metrics_port = 0

[console]
enabled = true
port = {console_port}
users_file = "{users}"

{endpoints}
[pairs.{PAIR}]
partner = "partner"
rep = "rep"
partner_account = "{PAIR}"
mapping = "{mapping}"
interval_seconds = {PAIR_INTERVAL_SECONDS}

[pairs.{OTHER}]
partner = "partner2"
rep = "rep"
partner_account = "{OTHER}"
mapping = "{mapping}"
interval_seconds = {PAIR_INTERVAL_SECONDS}
""",
        encoding="utf-8",
    )
    return config


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """``values`` set in ``os.environ`` for the block (for code without pytest's monkeypatch)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def token_environment() -> dict[str, str]:
    return {
        **{f"SYNC_WORKER_ENDPOINTS__{n.upper()}__TOKEN": t for n, t in TOKENS.items()},
        "SYNC_WORKER_CONSOLE__SESSION_SECRET": SESSION_SECRET,
    }


@dataclass(slots=True)
class ConsoleWorld:
    sandbox: Sandbox
    server: SandboxServer
    loaded: LoadedConfig
    runtime: Runtime

    @property
    def partner(self) -> Portal:
        return self.sandbox.portal("partner")

    @property
    def rep(self) -> Portal:
        return self.sandbox.portal("rep")

    def ctx(self, pair: str = PAIR) -> PairContext:
        return self.runtime.pairs[pair]

    def cycle(self, pair: str = PAIR) -> CycleReport:
        return run_cycle(self.ctx(pair))

    def links(self, count: int) -> list[LinkState]:
        """``count`` active links of the main pair, in partner id order."""
        found = []
        for deal in sorted(self.partner.deals(), key=lambda d: int(d["hs_object_id"] or 0)):
            link = self.runtime.store.find_link(PAIR, str(deal["hs_object_id"]))
            if link is not None and link.status == "active" and link.out_of_scope is None:
                found.append(link)
        assert len(found) >= count, f"only {len(found)} linked deals"
        return found[:count]

    def make_conflict(self, link: LinkState, partner_amount: str, rep_amount: str) -> None:
        """Both sides change the amount differently (the rep last): a conflict next cycle."""
        self.partner.edit_deal(link.partner_id, {"amount": partner_amount})
        time.sleep(0.01)  # distinct modification times
        self.rep.edit_deal(link.rep_id, {"amount": rep_amount})

    def make_dead_letter(self, link: LinkState) -> None:
        """The partner picks a product the rep portal does not offer: the rep write is refused."""
        self.partner.edit_deal(link.partner_id, {"product_interest": REFUSED_OPTION})

    def fix_dead_letter(self, link: LinkState) -> None:
        self.partner.edit_deal(link.partner_id, {"product_interest": "Sales Hub Enterprise"})


@contextmanager
def console_world(
    folder: Path, *, deals: int = 24, console_port: int = 0
) -> Iterator[ConsoleWorld]:
    """The sandbox served, the config written and loaded, the runtime built (no cycle run yet);
    the tokens and session secret must be in the environment (:func:`token_environment`)."""
    sandbox = Sandbox(_specs("enterprise"))
    seed_deals(sandbox, deals=deals)
    with SandboxServer(sandbox) as server:
        loaded = load_config(write_config(folder, server, console_port=console_port))
        runtime = build_runtime(loaded)
        try:
            yield ConsoleWorld(sandbox, server, loaded, runtime)
        finally:
            runtime.close()
