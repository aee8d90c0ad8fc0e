"""``explain`` answers "why did this field change?" from the live deals and the audit log,
without writing anything."""

from __future__ import annotations

from sync_worker.kernel.model import Side
from sync_worker.ops.explain import explain
from tests.integration.world import World, writes


def test_explain_shows_the_rule_the_three_values_and_what_was_done(world: World) -> None:
    partner_id, rep_id = world.linked(amount="1000")
    world.partner.edit_deal(partner_id, {"amount": "1500"})
    written = (writes(world.partner), writes(world.rep))

    pending = explain(world.ctx, rep_id)

    assert (writes(world.partner), writes(world.rep)) == written
    amount = next(f for f in pending.fields if f.field == "amount")
    assert (amount.rule, amount.partner_value, amount.rep_value, amount.base_value) == (
        "newest_wins",
        "1500",
        "1000",
        "1000",
    )
    assert "copy to the rep" in amount.decision

    world.settle(2)
    done = explain(world.ctx, partner_id)

    amount = next(f for f in done.fields if f.field == "amount")
    assert (amount.partner_value, amount.rep_value, amount.base_value) == ("1500",) * 3
    assert "in sync" in amount.decision
    newest = next(c for c in done.history if c.field == "amount")  # newest first
    assert (newest.side_written, newest.old_value, newest.new_value) == (Side.REP, "1000", "1500")
    assert newest.rule == "newest_wins"
    assert done.link is not None
    assert (done.link.partner_id, done.link.rep_id) == (partner_id, rep_id)


def test_explain_says_when_a_deal_is_not_linked_or_its_counterpart_is_gone(world: World) -> None:
    unlinked = world.register()
    assert explain(world.ctx, unlinked).note is not None
    partner_id, rep_id = world.linked()
    world.rep.archive_deal(rep_id)
    world.partner.edit_deal(partner_id, {"amount": "1"})
    world.settle(1)

    gone = explain(world.ctx, partner_id)

    assert gone.note is not None
    assert "tombstone" in gone.note
    assert gone.fields == ()
