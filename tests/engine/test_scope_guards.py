"""Scope and claim guards on the paths that read deals by id instead of a scoped search:
dead-letter retries and counterpart creation (found by review; each test failed before)."""

from __future__ import annotations

from sync_worker.kernel.model import Side
from sync_worker.sync.engine import run_cycle
from tests.engine.conftest import REGISTERED, World, register
from tests.engine.test_guards import linked, processor

PAIR = "agency-001"


def open_letters(world: World) -> list[tuple[Side, str]]:
    return [(d.side, d.record_id) for _, d in world.store.dead_letters(PAIR)]


def test_a_retried_deal_that_left_the_scope_is_not_written_and_syncs_when_back(
    world: World,
) -> None:
    partner_id, rep_id = linked(world)
    rejecting = {"on": True}
    world.rep.reject_property("amount", lambda _: rejecting["on"], "VALIDATION_ERROR: boom")
    world.partner.edit(partner_id, {"amount": "200"})
    world.tick()
    run_cycle(world.ctx)
    assert open_letters(world) == [(Side.REP, rep_id)]

    world.rep.edit(rep_id, {"shared_partner_account": "agency-999"})  # given to another partner
    rejecting["on"] = False
    world.tick(3600)  # the letter is due
    report = run_cycle(world.ctx)

    assert report.outcome == "ok"
    assert world.rep.get(rep_id).get("amount") == "100"  # type: ignore[union-attr]
    assert open_letters(world) == []  # closed: the deal is not this pair's any more
    assert report.counts.get("skipped.out_of_scope", 0) >= 1

    world.rep.edit(rep_id, {"shared_partner_account": PAIR})  # back: the edit is not lost
    world.tick()
    run_cycle(world.ctx)
    assert world.rep.get(rep_id).get("amount") == "200"  # type: ignore[union-attr]


def test_a_retried_referral_given_to_another_partner_creates_nothing(world: World) -> None:
    rejecting = {"on": True}
    # A constant of the creation, not a mapped field: the whole creation fails.
    world.partner.reject_property(REGISTERED, lambda _: rejecting["on"], "VALIDATION_ERROR: no")
    rep_id = world.rep.put({"dealname": "Referral", "amount": "5", "shared_partner_account": PAIR})
    world.tick()
    run_cycle(world.ctx)
    assert open_letters(world) == [(Side.REP, rep_id)]

    world.rep.edit(rep_id, {"shared_partner_account": "agency-999", "dealname": "Not yours"})
    rejecting["on"] = False
    world.tick(3600)
    report = run_cycle(world.ctx)

    assert report.outcome == "ok"
    assert world.partner.all() == ()  # no deal of agency-999's in agency-001's CRM
    assert world.rep.get(rep_id).get("partner_deal_id") in (None, "")  # type: ignore[union-attr]
    assert open_letters(world) == []


def test_a_counterpart_linked_by_hand_is_claimed_not_overwritten_by_a_creation(
    world: World,
) -> None:
    """A rep links a deal by typing the partner key; the partner deal arrives first, with no
    link of its own. The worker must pair the two and reconcile, not upsert over the rep's
    pipeline, stage and amount."""
    partner_id = register(world, dealname="Partner name", amount="100")
    rep_id = world.rep.put(
        {
            "dealname": "Rep's own name",
            "amount": "500",
            "pipeline": "enterprise",
            "dealstage": "contractsent",
            "shared_partner_account": PAIR,
            "partner_deal_id": f"{PAIR}:{partner_id}",
        }
    )
    world.tick()
    record = world.partner.get(partner_id)
    assert record is not None

    processor(world).process(Side.PARTNER, [record], record.modified_at)

    rep = world.rep.get(rep_id)
    assert rep is not None
    assert [d.id for d in world.rep.all()] == [rep_id]  # no second rep deal
    assert (rep.get("pipeline"), rep.get("dealstage")) == ("enterprise", "contractsent")
    assert rep.get("dealname") == "Rep's own name"
    assert world.partner.get(partner_id).get("rep_deal_id") == rep_id  # type: ignore[union-attr]
    link = world.store.find_link(PAIR, partner_id)
    assert link is not None
    assert link.rep_id == rep_id


def test_a_creation_key_already_on_a_deal_outside_the_scope_is_dead_lettered(
    world: World,
) -> None:
    partner_id = register(world)
    rep_id = world.rep.put(
        {
            "dealname": "Someone else's",
            "amount": "7",
            "shared_partner_account": "agency-999",
            "partner_deal_id": f"{PAIR}:{partner_id}",
        }
    )
    world.tick()
    run_cycle(world.ctx)

    rep = world.rep.get(rep_id)
    assert rep is not None
    assert (rep.get("shared_partner_account"), rep.get("amount")) == ("agency-999", "7")
    assert [d.id for d in world.rep.all()] == [rep_id]
    assert open_letters(world) == [(Side.PARTNER, partner_id)]
    [(_, letter)] = world.store.dead_letters(PAIR)
    assert "outside this pair's scope" in letter.reason
