"""How many linked pairs one core reconciles per second (target: 20,000 pairs/s).

Run: ``.venv/bin/python -m benchmarks.reconcile_throughput [--pairs N] [--rounds R]``

The mapping is the shipped default plus three more fields (10 in all, every kind of type and
rule; the deal team as collaborators resolved through a directory of owners, with the team
display kept on both sides). The pairs are a realistic mix, fixed by a seed: 60% unchanged since
the last sync (formatting noise included), 30% with edits on one side, 10% with conflicting
edits on both sides (settled by the field's rule; the manual field's are recorded). Records and
bases are built before timing; only :func:`reconcile` is timed.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import tomllib
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sync_worker.kernel.canonical import Team
from sync_worker.kernel.model import DealRecord
from sync_worker.mappings import builtin_mapping_path
from sync_worker.rules.mapping import SyncMapping, compile_mapping
from sync_worker.rules.plan import BaseSnapshot, Directory, Person
from sync_worker.rules.reconcile import reconcile

TARGET = 20_000
T0 = datetime(2026, 1, 1, tzinfo=UTC)
PARTNER_PEOPLE = [Person(f"1{i:04d}", f"user{i}@agency.test", f"User {i}") for i in range(20)]
REP_PEOPLE = [Person(f"9{i:04d}", f"rep{i}@hubspot.test", f"Rep {i}") for i in range(50)]
DIRECTORY = Directory.from_people(PARTNER_PEOPLE, REP_PEOPLE)
COLLABORATORS, DISPLAY = "hs_all_collaborator_owner_ids", "shared_deal_team"
EXTRA_FIELDS = """
[fields.probability]
type = "number"
partner = "hs_deal_stage_probability_shared"
rep = "hs_deal_stage_probability_shared"
direction = "partner_to_rep"
rule = "partner_wins"

[fields.next_step]
type = "string"
partner = "hs_next_step"
rep = "hs_next_step"
direction = "both"
rule = "manual"

[fields.priority]
type = "bool"
partner = "is_priority"
rep = "is_priority"
direction = "both"
rule = "rep_wins"
"""


def ten_field_mapping() -> SyncMapping:
    text = Path(builtin_mapping_path("hubspot_shared_deals")).read_text(encoding="utf-8")
    data = tomllib.loads(text + EXTRA_FIELDS)
    mapping = compile_mapping(data, context={"partner_account": "acme"})
    assert len(mapping.fields) == 10
    return mapping


def _values(rng: random.Random) -> dict[str, str]:
    """One deal's agreed values, keyed by field name (raw, as the partner would show them)."""
    return {
        "dealname": f"Deal {rng.randrange(10**6)}",
        "pipeline": "default",
        "dealstage": rng.choice(["appointmentscheduled", "qualifiedtobuy", "closedwon"]),
        "product_interest": ";".join(rng.sample(["sales", "cms", "ops", "service"], 2)),
        "closedate": f"2026-0{rng.randrange(1, 10)}-1{rng.randrange(10)}T10:00:00.000Z",
        "amount": str(rng.randrange(100, 100_000)),
        "probability": f"0.{rng.randrange(1, 10)}",
        "next_step": rng.choice(["call", "demo", "proposal"]),
        "priority": rng.choice(["true", "false"]),
    }


def _noisy(field: str, raw: str) -> str:
    """The same value as the other CRM might format it."""
    if field == "amount":
        return raw + ".00"
    if field == "product_interest":
        return " ; ".join(reversed(raw.split(";")))
    return raw


def _edit(field: str, raw: str, rng: random.Random) -> str:
    if field == "amount":
        return str(Decimal(raw) + rng.randrange(1, 500))
    if field == "closedate":
        return raw.replace("T10", f"T1{rng.randrange(1, 10)}")
    return f"{raw} (edit {rng.randrange(100)})"


def make_pair(
    mapping: SyncMapping, rng: random.Random, index: int
) -> tuple[DealRecord, DealRecord, BaseSnapshot]:
    agreed = _values(rng)
    partner_raw, rep_raw = dict(agreed), {k: _noisy(k, v) for k, v in agreed.items()}
    kind = rng.random()
    editable = ["amount", "closedate", "deal_team", "next_step", "dealname"]
    field = rng.choice(editable)
    teams = [rng.sample(PARTNER_PEOPLE, 2), rng.sample(REP_PEOPLE, 1)]
    agreed_team = Team(frozenset(p.email for p in teams[0]), frozenset(p.email for p in teams[1]))
    shown = ";".join(p.shown for p in sorted(teams[0] + teams[1], key=lambda p: p.email))
    for side, (raw, people) in enumerate(((partner_raw, PARTNER_PEOPLE), (rep_raw, REP_PEOPLE))):
        if kind >= (0.6, 0.9)[side]:
            if field == "deal_team":  # a side adds one of its own users as a collaborator
                teams[side] = [*teams[side], rng.choice(people)]
            else:
                raw[field] = _edit(field, raw[field], rng)
    fields = [spec for spec in mapping.fields if spec.team is None]
    values = {spec.name: spec.codecs.partner.read(agreed[spec.name]) for spec in fields}
    base = BaseSnapshot({**values, "deal_team": agreed_team}, T0)
    stamps = {spec.partner: T0 + timedelta(minutes=rng.randrange(60)) for spec in mapping.fields}
    team = {COLLABORATORS: "", DISPLAY: shown}
    partner = DealRecord(
        f"p{index}",
        {**{s.partner: partner_raw[s.name] for s in fields}, **team, COLLABORATORS: _ids(teams[0])},
        T0,
        stamps,
    )
    rep = DealRecord(
        f"r{index}",
        {**{s.rep: rep_raw[s.name] for s in fields}, **team, COLLABORATORS: _ids(teams[1])},
        T0,
        stamps,
    )
    return partner, rep, base


def _ids(people: list[Person]) -> str:
    return ";".join(p.id for p in people)


Pair = tuple[DealRecord, DealRecord, BaseSnapshot]


def plan_mix(mapping: SyncMapping, data: list[Pair]) -> Counter[str]:
    """What the plans of ``data`` hold (untimed), to show the mix is realistic."""
    mix: Counter[str] = Counter()
    for partner, rep, base in data:
        plan = reconcile(partner, rep, base, mapping, DIRECTORY, T0)
        mix["no-op"] += plan.is_noop
        mix["with writes"] += bool(plan.updates)
        mix["with manual conflicts"] += bool(plan.conflicts)
        mix["with held differences"] += bool(plan.held)
    return mix


def measure(mapping: SyncMapping, data: list[Pair], rounds: int) -> tuple[list[float], list[float]]:
    """Pairs per second of each of ``rounds`` passes over ``data``: by this thread's CPU time
    (what one core does, whatever else the machine runs) and by the wall clock."""
    cpu_rates, wall_rates = [], []
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.thread_time()
        for partner, rep, base in data:
            reconcile(partner, rep, base, mapping, DIRECTORY, T0)
        cpu_rates.append(len(data) / (time.thread_time() - cpu))
        wall_rates.append(len(data) / (time.perf_counter() - wall))
    return cpu_rates, wall_rates


def main() -> None:
    parser = argparse.ArgumentParser(description="Reconcile throughput on one core.")
    parser.add_argument("--pairs", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    mapping = ten_field_mapping()
    rng = random.Random(args.seed)
    data = [make_pair(mapping, rng, i) for i in range(args.pairs)]
    mix = ", ".join(f"{count:,} {name}" for name, count in plan_mix(mapping, data).items())
    cpu_rates, wall_rates = measure(mapping, data, args.rounds)
    rate = statistics.median(cpu_rates)
    print(f"pairs: {args.pairs:,} ({mix}); 10 fields; {args.rounds} rounds")
    print(
        f"reconcile: {rate:,.0f} pairs/s per core (median by CPU time; best {max(cpu_rates):,.0f})"
    )
    print(f"wall clock: {statistics.median(wall_rates):,.0f} pairs/s median (load-sensitive)")
    print(f"target {TARGET:,} pairs/s: ratio {rate / TARGET:.2f}x")


if __name__ == "__main__":
    main()
