"""A partner programme in the sandbox: one rep portal and P partner portals, each partner
``partner-k`` paired with the rep CRM as account ``agency-k``, and a config file that runs them
(tokens in token files, as a deployment mounts them).

Used by the rep discovery tests (one rep pull for every pair), in-process and with real
``sync-worker run`` processes."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from hubspot_sandbox import Sandbox, SandboxServer, demo_portals
from hubspot_sandbox.portal import Portal

REP = "rep"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def partner_name(k: int) -> str:
    return f"partner-{k}"


def account(k: int) -> str:
    return f"agency-{k:03d}"


def pair_name(k: int) -> str:
    return f"pair-{k:03d}"


@dataclass
class Programme:
    sandbox: Sandbox
    server: SandboxServer
    config: Path
    size: int
    shared: dict[int, tuple[str, str]] = field(default_factory=dict)
    """Per pair: (partner deal id, rep deal id) of the deal it shares, once linked."""

    @property
    def rep(self) -> Portal:
        return self.sandbox.portal(REP)

    def partner(self, k: int) -> Portal:
        return self.sandbox.portal(partner_name(k))

    def rep_searches(self) -> int:
        return sum(self.rep.counters.get("search", {}).values())

    def seed(self) -> None:
        """Each partner registers a deal, and the rep refers one to each partner: the first
        round creates their counterparts (two shared deals per pair)."""
        for k in range(self.size):
            deal_id = self.partner(k).create_deal(
                {
                    "dealname": f"Registered by {account(k)}",
                    "amount": "1000",
                    "pipeline": "default",
                    "dealstage": "appointmentscheduled",
                }
            )
            self.partner(k).register_deal(deal_id)
            self.rep.create_deal(
                {
                    "dealname": f"Referred to {account(k)}",
                    "amount": "2000",
                    "dealstage": "appointmentscheduled",
                    "shared_partner_account": account(k),
                }
            )

    def learn_links(self) -> None:
        """Record each pair's registered deal and its rep counterpart (after a first round)."""
        for k in range(self.size):
            (registered,) = [
                d for d in self.partner(k).deals() if d["dealname"] == f"Registered by {account(k)}"
            ]
            rep_id = registered.get("rep_deal_id")
            assert rep_id is not None, f"pair {k}: no rep counterpart yet"
            self.shared[k] = (str(registered["hs_object_id"]), rep_id)

    def partner_amount(self, k: int) -> str | None:
        deal = self.partner(k).get_deal(self.shared[k][0])
        assert deal is not None
        return deal["amount"]

    def rep_amount(self, k: int) -> str | None:
        deal = self.rep.get_deal(self.shared[k][1])
        assert deal is not None
        return deal["amount"]


def write_programme_config(
    path: Path, server: SandboxServer, size: int, state_url: str, *, extra: str = ""
) -> Path:
    """One endpoint per portal (a token file each), one pair per partner portal."""
    tokens = path.parent / "tokens"
    tokens.mkdir(exist_ok=True)
    lines = [
        "[worker]",
        f"state_url = {json.dumps(state_url)}",
        'log_format = "json"',
        "interval_seconds = 5",
        "jitter_seconds = 0",
        f"metrics_port = {free_port()}",
        extra,
    ]
    for portal in server.sandbox.portals:
        token = tokens / portal.name
        token.write_text(portal.spec.token, encoding="utf-8")
        lines += [
            f"[endpoints.{portal.name}]",
            f'base_url = "{server.base_url(portal.name)}"',
            'rate_limit_tier = "enterprise"',
            "search_overlap_seconds = 0",
            f"token_file = {json.dumps(str(token))}",
        ]
    for k in range(size):
        lines += [
            f"[pairs.{pair_name(k)}]",
            f'partner = "{partner_name(k)}"',
            f'rep = "{REP}"',
            f'partner_account = "{account(k)}"',
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def programme_sandbox(size: int) -> Sandbox:
    partner, rep = demo_portals(tier="unlimited")
    partners = [
        replace(partner, name=partner_name(k), token=f"partner-token-{k}") for k in range(size)
    ]
    return Sandbox([*partners, rep])


@contextmanager
def running_programme(
    tmp_path: Path, size: int, state_url: str | None = None, *, extra: str = ""
) -> Iterator[Programme]:
    """A seeded programme served over loopback HTTP, and its config (SQLite state unless
    ``state_url`` is given)."""
    sandbox = programme_sandbox(size)
    url = state_url or f"sqlite:///{tmp_path / 'state.db'}"
    with SandboxServer(sandbox) as server:
        config = write_programme_config(tmp_path / "config.toml", server, size, url, extra=extra)
        programme = Programme(sandbox, server, config, size)
        programme.seed()
        yield programme
