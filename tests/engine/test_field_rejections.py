"""A value the CRM rejects holds back that field only: the record's other fields still sync
(found by review: one rejected closedate blocked every later amount edit)."""

from __future__ import annotations

from sync_worker.kernel.model import Side
from sync_worker.sync.engine import run_cycle
from tests.engine.conftest import World, register
from tests.engine.test_guards import linked

PAIR = "agency-001"


def test_a_rejected_value_holds_back_its_field_only(world: World) -> None:
    partner_id, rep_id = linked(world)
    world.rep.reject_property(
        "closedate", lambda v: v.startswith("1999"), "VALIDATION_ERROR: closedate too old"
    )
    world.partner.edit(partner_id, {"closedate": "1999-01-01T00:00:00Z", "amount": "150"})
    world.tick()
    report = run_cycle(world.ctx)

    rep = world.rep.get(rep_id)
    assert rep is not None
    assert rep.get("amount") == "150"  # written with the rejected field left out
    assert rep.get("closedate") != "1999-01-01T00:00:00Z"
    [(_, letter)] = world.store.dead_letters(PAIR)
    assert (letter.side, letter.record_id) == (Side.REP, rep_id)
    assert "closedate" in letter.reason
    assert "too old" in letter.reason
    assert report.counts["updated.rep"] == 1

    for amount in ("200", "201"):  # later edits are not blocked by the open letter
        world.tick(10)
        world.partner.edit(partner_id, {"amount": amount})
        world.tick()
        run_cycle(world.ctx)
        assert world.rep.get(rep_id).get("amount") == amount  # type: ignore[union-attr]
    assert [d.record_id for _, d in world.store.dead_letters(PAIR)] == [rep_id]

    world.tick(10)  # the partner corrects the date: it syncs and the letter closes
    world.partner.edit(partner_id, {"closedate": "2027-03-31T00:00:00Z"})
    world.tick()
    run_cycle(world.ctx)
    fixed = world.rep.get(rep_id)
    assert fixed is not None
    assert str(fixed.get("closedate")).startswith("2027-03-31T00:00:00")
    assert world.store.dead_letters(PAIR) == []


def test_a_rep_edit_to_the_held_back_field_is_not_lost(world: World) -> None:
    """The base of a rejected field stays as last agreed, so the other side's own edit of that
    field is still seen as an edit (not overwritten, not forgotten)."""
    partner_id, rep_id = linked(world)
    world.rep.reject_property(
        "closedate", lambda v: v.startswith("1999"), "VALIDATION_ERROR: closedate too old"
    )
    world.partner.edit(partner_id, {"closedate": "1999-01-01T00:00:00Z", "amount": "150"})
    world.tick()
    run_cycle(world.ctx)

    world.tick(10)
    world.rep.edit(rep_id, {"closedate": "2028-01-31T00:00:00Z"})  # newer than the partner's
    world.tick()
    run_cycle(world.ctx)

    for deal in (world.partner.get(partner_id), world.rep.get(rep_id)):
        assert deal is not None
        assert str(deal.get("closedate")).startswith("2028-01-31T00:00:00")
    assert world.store.dead_letters(PAIR) == []


def test_a_counterpart_is_created_without_the_value_the_crm_refuses(world: World) -> None:
    world.rep.reject_property("amount", "13", "VALIDATION_ERROR: amount 13 is unlucky")
    partner_id = register(world, dealname="Lucky", amount="13")
    world.tick()
    report = run_cycle(world.ctx)

    [rep] = world.rep.all()
    assert rep.get("dealname") == "Lucky"
    assert rep.get("amount") in (None, "")
    assert world.partner.get(partner_id).get("rep_deal_id") == rep.id  # type: ignore[union-attr]
    assert report.counts["created.rep"] == 1
    [(_, letter)] = world.store.dead_letters(PAIR)
    assert (letter.side, letter.record_id) == (Side.REP, rep.id)
    assert "field amount" in letter.reason
    assert "unlucky" in letter.reason

    world.tick(10)  # the partner corrects the amount: it syncs, the letter closes
    world.partner.edit(partner_id, {"amount": "14"})
    world.tick()
    run_cycle(world.ctx)
    assert [d.id for d in world.rep.all()] == [rep.id]  # still one counterpart
    assert world.rep.get(rep.id).get("amount") == "14"  # type: ignore[union-attr]
    assert world.store.dead_letters(PAIR) == []


def test_a_refused_creation_default_fails_the_creation_rather_than_vanish(world: World) -> None:
    """A stage or pipeline is only written when a counterpart is created: held back, nothing
    would ever write it again. Such a creation fails whole and stays visible (retried)."""
    world.partner.reject_property("dealstage", "referred_new", "INVALID_OPTION: no such stage")
    rep_id = world.rep.put({"dealname": "Referral", "amount": "5", "shared_partner_account": PAIR})
    world.tick()
    run_cycle(world.ctx)

    assert world.partner.all() == ()
    [(_, letter)] = world.store.dead_letters(PAIR)
    assert (letter.side, letter.record_id) == (Side.REP, rep_id)
    assert "creating counterpart" in letter.reason
    assert "no such stage" in letter.reason
    for _ in range(3):  # retried, never silently closed
        world.tick(4000)
        run_cycle(world.ctx)
        assert [d.record_id for _, d in world.store.dead_letters(PAIR)] == [rep_id]


def test_several_refused_values_make_one_letter_naming_each_field(world: World) -> None:
    world.rep.reject_property("amount", "13", "VALIDATION_ERROR: amount 13 is unlucky")
    world.rep.reject_property(
        "closedate", lambda v: v.startswith("1999"), "VALIDATION_ERROR: closedate too old"
    )
    register(world, amount="13", closedate="1999-01-01T00:00:00Z")
    world.tick()
    report = run_cycle(world.ctx)

    [rep] = world.rep.all()
    [(_, letter)] = world.store.dead_letters(PAIR)
    assert letter.record_id == rep.id
    assert "field amount" in letter.reason
    assert "field closedate" in letter.reason
    assert report.counts["dead_lettered"] == 1
