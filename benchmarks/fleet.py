"""One rep portal and P partner portals in one sandbox process, driven over its stdin: the
fleet that ``benchmarks.many_pairs`` syncs.

Run by the parent as ``python -m benchmarks.fleet --pairs P --deals D``. The child:

* serves ``rep`` and ``partner-0001`` ... ``partner-P`` (tokens ``rep-token`` and
  ``partner-token-NNNN``), shaped like the demo portals, every tier ``unlimited`` until the
  parent switches it (a set-up runs unlimited, a measurement at its tier);
* seeds in-process, by bulk load (no API call), D shared deals per pair, linked as the worker
  links them (link properties in the default mapping's form; the rep deal carries
  ``shared_partner_account`` = the pair's account, ``acct-NNNN``): half registered by the
  partner, half the rep's referrals. The worker's first sync finds them and records the links
  and their agreed values (a set-up that creates 20,000 counterparts through the API would take
  minutes and measure nothing asked here);
* prints one JSON line (url, seed seconds, RSS), then answers one JSON line per command line:

  ======================================  ==================================================
  ``{"op": "counters"}``                  ``{portal: {endpoint: {status: n}}}``, portals used
  ``{"op": "tier", "portals", "tier"}``   switch tiers (``portals``: rep, partners or all)
  ``{"op": "latency", "portals",          each call answered after ``low``..``high`` s
  "low", "high"}``
  ``{"op": "edit", "changes":             edit ``amount`` of one linked deal per change, as a
  [[pair, side], ...]}``                  user; ``{"expect": [[portal, id, value], ...]}``
  ``{"op": "landed", "expect"}``          ``{"landed": n, "last_ms"}``: counterparts holding
                                          the value, and their newest modification (epoch ms)
  ======================================  ==================================================

  and stops when its stdin closes.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import resource
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import IO, TYPE_CHECKING, Any

from benchmarks.children import end_child

if TYPE_CHECKING:  # the parent never imports the sandbox
    from hubspot_sandbox import PortalSpec, Sandbox

REP = "rep"
REP_TOKEN = "rep-token"  # noqa: S105 - a local sandbox's token
PRODUCTS = ("Sales Hub Professional", "Marketing Hub Enterprise", "Service Hub Professional")
Expectation = tuple[str, str, str]
"""(portal, deal id, amount): a change has landed when that counterpart holds the amount."""


def pair_name(i: int) -> str:
    return f"pair-{i:04d}"


def partner_name(i: int) -> str:
    return f"partner-{i:04d}"


def partner_token(i: int) -> str:
    return f"partner-token-{i:04d}"


def account(i: int) -> str:
    return f"acct-{i:04d}"


# --- the child --------------------------------------------------------------------------------


def fleet_specs(pairs: int) -> list[PortalSpec]:
    from hubspot_sandbox import demo_portals

    partner, rep = demo_portals(tier="unlimited")
    partners = [
        replace(partner, name=partner_name(i), token=partner_token(i)) for i in range(1, pairs + 1)
    ]
    return [replace(rep, name=REP, token=REP_TOKEN), *partners]


@dataclass
class Seeded:
    """Each pair's linked deals as (partner id, rep id), and the next one each side edits."""

    links: dict[int, list[tuple[str, str]]]
    turn: Mapping[tuple[int, str], Iterator[tuple[str, str]]]


def seed(sandbox: Sandbox, pairs: int, deals: int, rng: random.Random) -> Seeded:
    """D linked shared deals per pair, as the worker links them (link properties in the default
    mapping's form); half registered by the partner, half the rep's referrals."""
    on_partner, on_rep = link_formats()
    now = datetime.now(UTC)
    loaded_at = now - timedelta(days=1)
    rep = sandbox.portal(REP)
    partner_ids: dict[int, list[str]] = {}
    rep_rows: list[dict[str, str]] = []
    for i in range(1, pairs + 1):
        partner = sandbox.portal(partner_name(i))
        values = [_values(rng, now, i, k) for k in range(deals)]
        partner_ids[i] = partner.bulk_load(values, modified_at=loaded_at)
        for n, deal_id in enumerate(partner_ids[i][: deals // 2]):
            partner.register_deal(deal_id, at=loaded_at + timedelta(milliseconds=n + 1))
        rep_rows += [
            {**v, "shared_partner_account": account(i), "partner_deal_id": on_rep(i, pid)}
            for v, pid in zip(values, partner_ids[i], strict=True)
        ]
    rep_ids = iter(rep.bulk_load(rep_rows, modified_at=loaded_at))
    links: dict[int, list[tuple[str, str]]] = {}
    for i in range(1, pairs + 1):
        partner = sandbox.portal(partner_name(i))
        links[i] = list(zip(partner_ids[i], itertools.islice(rep_ids, deals), strict=True))
        for n, (pid, rid) in enumerate(links[i]):
            at = loaded_at + timedelta(seconds=1, milliseconds=n)
            partner.edit_deal(pid, {"rep_deal_id": on_partner(i, rid)}, source="INTEGRATION", at=at)
    half = deals // 2  # the partner edits its registrations, the rep its referrals
    turn = {
        (i, side): itertools.cycle(found[:half] if side == "partner" else found[half:])
        for i, found in links.items()
        for side in ("partner", "rep")
    }
    return Seeded(links, turn)


def link_formats() -> tuple[Callable[[int, str], str], Callable[[int, str], str]]:
    """How the default mapping writes a counterpart's id into each side's link property
    (``[links] partner_value`` / ``rep_value``, e.g. ``"{partner_account}:{id}"``)."""
    from sync_worker.mappings import builtin_mapping_path

    text = builtin_mapping_path("hubspot_shared_deals").read_text(encoding="utf-8")
    found = tomllib.loads(text)["links"]

    def formatter(template: str) -> Callable[[int, str], str]:
        return lambda pair, deal_id: template.format(partner_account=account(pair), id=deal_id)

    return formatter(found.get("partner_value", "{id}")), formatter(found.get("rep_value", "{id}"))


def _values(rng: random.Random, now: datetime, pair: int, k: int) -> dict[str, str]:
    close = (now + timedelta(days=rng.randint(5, 150))).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return {
        "dealname": f"Pair {pair} deal {k}",
        "amount": str(rng.randrange(1_000, 200_000, 500)),
        "closedate": close.isoformat(),
        "product_interest": rng.choice(PRODUCTS),
    }


class Controller:
    """Answers the parent's commands (see the module docstring)."""

    def __init__(self, sandbox: Sandbox, seeded: Seeded, pairs: int) -> None:
        self.sandbox, self.seeded, self.pairs = sandbox, seeded, pairs
        self.amounts = itertools.count(500_000)

    def answer(self, command: dict[str, Any]) -> Any:
        op = command["op"]
        if op == "counters":
            return {
                p.name: {e: {str(s): n for s, n in by.items()} for e, by in p.counters.items()}
                for p in self.sandbox.built_portals
            }
        if op == "tier":
            for name in self._names(command["portals"]):
                self.sandbox.portal(name).set_tier(command["tier"])
            return {}
        if op == "latency":
            for name in self._names(command["portals"]):
                self.sandbox.portal(name).set_latency(command["low"], command["high"])
            return {}
        if op == "edit":
            return {"expect": [self._edit(int(i), side) for i, side in command["changes"]]}
        if op == "landed":
            return self._landed([tuple(e) for e in command["expect"]])
        raise ValueError(f"unknown op {op!r}")

    def _names(self, which: str) -> list[str]:
        partners = [partner_name(i) for i in range(1, self.pairs + 1)]
        return {"rep": [REP], "partners": partners, "all": [REP, *partners]}[which]

    def _edit(self, pair: int, side: str) -> Expectation:
        partner_id, rep_id = next(self.seeded.turn[(pair, side)])
        amount = str(next(self.amounts))
        if side == "partner":
            self.sandbox.portal(partner_name(pair)).edit_deal(partner_id, {"amount": amount})
            return (REP, rep_id, amount)
        self.sandbox.portal(REP).edit_deal(rep_id, {"amount": amount})
        return (partner_name(pair), partner_id, amount)

    def _landed(self, expect: Sequence[tuple[Any, ...]]) -> dict[str, int]:
        landed, last_ms = 0, 0
        for portal, deal_id, amount in expect:
            deal = self.sandbox.portal(portal).get_deal(deal_id) if deal_id else None
            if deal is not None and deal.get("amount") == amount:
                landed += 1
                modified = datetime.fromisoformat(str(deal["hs_lastmodifieddate"]))
                last_ms = max(last_ms, int(modified.timestamp() * 1000))
        return {"landed": landed, "last_ms": last_ms}


def serve_fleet(pairs: int, deals: int, out: IO[str]) -> None:
    from hubspot_sandbox import Sandbox, SandboxServer

    started = time.monotonic()
    sandbox = Sandbox(fleet_specs(pairs))
    seeded = seed(sandbox, pairs, deals, random.Random(0))
    ready = {
        "seed_seconds": round(time.monotonic() - started, 2),
        "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    controller = Controller(sandbox, seeded, pairs)
    with SandboxServer(sandbox) as server:
        print(json.dumps({"url": server.url, **ready}), file=out, flush=True)
        for line in sys.stdin:
            try:
                reply = {"ok": controller.answer(json.loads(line))}
            except (KeyError, ValueError, TypeError) as exc:
                reply = {"error": f"{type(exc).__name__}: {exc}"}
            print(json.dumps(reply), file=out, flush=True)


# --- the parent -------------------------------------------------------------------------------


@dataclass
class Fleet:
    """A running fleet process (see the module docstring)."""

    pairs: int
    deals: int
    url: str
    seed_seconds: float
    rss_mb: float
    process: subprocess.Popen[str]

    def base_url(self, portal: str) -> str:
        return f"{self.url}/{portal}"

    def ask(self, op: str, **args: Any) -> Any:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None
        assert stdout is not None
        stdin.write(json.dumps({"op": op, **args}) + "\n")
        stdin.flush()
        reply = json.loads(stdout.readline() or '{"error": "the fleet process exited"}')
        if "error" in reply:
            raise RuntimeError(f"fleet {op}: {reply['error']}")
        return reply["ok"]

    def counters(self) -> dict[str, dict[str, dict[int, int]]]:
        raw = self.ask("counters")
        return {
            portal: {e: {int(s): n for s, n in by.items()} for e, by in endpoints.items()}
            for portal, endpoints in raw.items()
        }


@contextmanager
def running_fleet(pairs: int, deals: int) -> Iterator[Fleet]:
    """Start the fleet process; it is stopped (its stdin closed, then by its pid) on exit."""
    command = [sys.executable, "-m", "benchmarks.fleet", "--pairs", str(pairs)]
    command += ["--deals", str(deals)]
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        if not line:
            raise RuntimeError(f"the fleet process exited ({child.wait()}) before serving")
        ready = json.loads(line)
        yield Fleet(pairs, deals, ready["url"], ready["seed_seconds"], ready["rss_mb"], child)
    finally:
        end_child(child)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fleet", description=__doc__)
    parser.add_argument("--pairs", type=int, required=True)
    parser.add_argument("--deals", type=int, required=True, help="shared deals per pair")
    args = parser.parse_args(argv)
    serve_fleet(args.pairs, args.deals, sys.stdout)


if __name__ == "__main__":
    main()
