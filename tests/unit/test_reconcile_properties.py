"""The merge laws, checked by hypothesis over every type, rule and direction at once."""

from __future__ import annotations

from hypothesis import given

from sync_worker.kernel.errors import RejectedValueError
from sync_worker.kernel.model import DealRecord, Side
from sync_worker.rules.mapping import Direction, FieldMapping, Rule
from sync_worker.rules.plan import BaseSnapshot, PairPlan
from sync_worker.rules.reconcile import reconcile
from tests.unit.strategies import DIRECTORY, MAPPING, T0, bases, echo_noise, records
from tests.unit.support import apply

PARTNERS = records(Side.PARTNER)
REPS = records(Side.REP)
_UNREADABLE = object()


def value(spec: FieldMapping, record: DealRecord, side: Side) -> object:
    try:
        return spec.codec(side).read(record.properties.get(spec.property_on(side)))
    except RejectedValueError:
        return _UNREADABLE


def run(partner: DealRecord, rep: DealRecord, base: BaseSnapshot | None) -> PairPlan:
    return reconcile(partner, rep, base, MAPPING, DIRECTORY, T0)


def applied(partner: DealRecord, rep: DealRecord, plan: PairPlan) -> tuple[DealRecord, DealRecord]:
    return apply(partner, plan, Side.PARTNER), apply(rep, plan, Side.REP)


def two_way_fields() -> list[FieldMapping]:
    return [spec for spec in MAPPING.fields if spec.direction is Direction.BOTH]


@given(PARTNERS, REPS, bases())
def test_convergence_every_two_way_field_agrees_or_is_accounted_for(
    partner: DealRecord, rep: DealRecord, base: BaseSnapshot | None
) -> None:
    plan = run(partner, rep, base)
    partner2, rep2 = applied(partner, rep, plan)
    excused = {c.field for c in plan.conflicts} | {r.field for r in plan.rejections}
    held = {h.field for h in plan.held}
    for spec in two_way_fields():
        p, r = value(spec, partner2, Side.PARTNER), value(spec, rep2, Side.REP)
        if spec.name in excused or p == r:
            continue
        # set_on_create never writes over a value (nor propagates a clear): it is held
        assert spec.rule is Rule.SET_ON_CREATE, spec.name
        assert spec.name in held, spec.name


@given(PARTNERS, REPS, bases())
def test_idempotence_reconciling_the_result_plans_nothing_new(
    partner: DealRecord, rep: DealRecord, base: BaseSnapshot | None
) -> None:
    plan = run(partner, rep, base)
    again = run(*applied(partner, rep, plan), plan.new_base)
    assert again.updates == {}
    assert again.new_base.values == plan.new_base.values
    assert {c.field for c in again.conflicts} == {c.field for c in plan.conflicts}


@given(PARTNERS, REPS, bases())
def test_echo_values_the_worker_wrote_coming_back_reformatted_plan_nothing(
    partner: DealRecord, rep: DealRecord, base: BaseSnapshot | None
) -> None:
    plan = run(partner, rep, base)
    echoed = []
    for side, record in ((Side.PARTNER, partner), (Side.REP, rep)):
        writes = plan.updates.get(side, {})
        noisy = {
            spec.property_on(side): echo_noise(spec.type, writes[spec.property_on(side)])
            for spec in MAPPING.fields
            if spec.property_on(side) in writes
        }
        echoed.append(
            DealRecord(record.id, {**record.properties, **noisy}, T0, record.property_timestamps)
        )
    assert run(echoed[0], echoed[1], plan.new_base).updates == {}


def changed_side(
    spec: FieldMapping, p: object, r: object, base: BaseSnapshot | None
) -> Side | None:
    """The one side that changed ``spec`` (None when neither or both did)."""
    values = base.values if base else {}
    if spec.name in values:
        p_changed, r_changed = p != values[spec.name], r != values[spec.name]
    else:
        p_changed, r_changed = p is not None, r is not None
    if p_changed == r_changed:
        return None
    return Side.PARTNER if p_changed else Side.REP


@given(PARTNERS, REPS, bases())
def test_no_lost_update_a_one_sided_change_is_never_reverted(
    partner: DealRecord, rep: DealRecord, base: BaseSnapshot | None
) -> None:
    plan = run(partner, rep, base)
    written = {(c.field, c.side) for c in plan.changes}
    for spec in MAPPING.fields:
        if spec.rule is Rule.OWNED_SET or spec.direction is Direction.NONE:
            continue  # owned sets have their own laws (test_owned_set.py)
        p, r = value(spec, partner, Side.PARTNER), value(spec, rep, Side.REP)
        if _UNREADABLE in (p, r):
            continue
        side = changed_side(spec, p, r, base)
        if side is not None:
            assert (spec.name, side) not in written, spec.name


@given(PARTNERS, REPS, bases())
def test_owned_set_own_edits_survive_and_foreign_edits_do_not(
    partner: DealRecord, rep: DealRecord, base: BaseSnapshot | None
) -> None:
    spec = MAPPING.field("team")
    plan = run(partner, rep, base)
    partner2, rep2 = applied(partner, rep, plan)
    team: dict[Side, frozenset[str]] = {}
    for side, before, after in ((Side.PARTNER, partner, partner2), (Side.REP, rep, rep2)):
        team[side] = value(spec, before, side) or frozenset()  # type: ignore[assignment]
        assert value(spec, after, side) == plan.new_base.values["team"]
    final: frozenset[str] = plan.new_base.values["team"] or frozenset()  # type: ignore[assignment]
    for side in Side:
        owned = (
            DIRECTORY.partner - DIRECTORY.rep
            if side is Side.PARTNER
            else DIRECTORY.rep - DIRECTORY.partner
        )
        assert final & owned == team[side] & owned
