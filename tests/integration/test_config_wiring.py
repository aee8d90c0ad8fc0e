"""The worker as deployed: a config file (tokens from the environment) wired into pairs that
sync the sandbox, for every rate-limit tier the config accepts."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest

from sync_worker.runtime.config import RateLimitTier, load_config
from sync_worker.runtime.wiring import runtime_for
from sync_worker.sync.engine import run_cycle
from tests.integration.world import PAIR, World

CONFIG = """
[worker]
state_url = "sqlite:///{state}"
metrics_port = 0

[endpoints.partner]
kind = "hubspot"
base_url = "{url}/partner"
rate_limit_tier = "{tier}"

[endpoints.rep]
kind = "hubspot"
base_url = "{url}/rep"
rate_limit_tier = "{tier}"

[pairs.{pair}]
partner = "partner"
rep = "rep"
partner_account = "{pair}"
mapping = "hubspot_shared_deals"
"""


@pytest.mark.parametrize("tier", get_args(RateLimitTier))
def test_every_tier_the_config_accepts_builds_a_working_pair(
    world: World, demo_env: pytest.MonkeyPatch, tmp_path: Path, tier: str
) -> None:
    path = tmp_path / "config.toml"
    text = CONFIG.format(state=tmp_path / "wired.db", url=world.server.url, tier=tier, pair=PAIR)
    path.write_text(text)
    partner_id = world.register()

    with runtime_for(load_config(path)) as runtime:
        report = run_cycle(runtime.pairs[PAIR])

    assert report.outcome == "ok", report.error
    assert len(world.rep_deals_for(partner_id)) == 1


def test_runtimes_on_one_state_store_pace_one_budget_per_credential(
    world: World, demo_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Two runtimes (as two processes build them) on one state file: a grant of one counts
    in the other's window, and the status figures are the shared ones."""
    path = tmp_path / "config.toml"
    text = CONFIG.format(state=tmp_path / "wired.db", url=world.server.url, tier="free", pair=PAIR)
    path.write_text(text)

    with runtime_for(load_config(path)) as first, runtime_for(load_config(path)) as second:
        [mine, *_] = first.limiters.limiters()
        [theirs] = [b for b in second.limiters.limiters() if b.label == mine.label]
        for _ in range(3):
            mine.acquire("general")
        seen = theirs.snapshot()

    assert seen.shared
    assert (seen.general_used, seen.general_remaining) == (3, 92)
