"""``make screenshots``: PNGs of every console page for the README, taken by headless chromium
from a live daemon over the sandbox (the browser tests' world, with some history made first).

    python -m tests.console.screenshots docs/screenshots
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tests.console.browser import Browser, Live, chromium, chromium_missing, live_daemon, wait_for
from tests.console.world import OPERATOR, OTHER, PAIR, console_world, environment, token_environment


def make_history(live: Live) -> str:
    """A few cycles with edits between them, a conflict, a dead letter and a refused token;
    returns a partner deal id worth explaining."""
    world = live.world
    links = world.links(8)
    for n, link in enumerate(links[:5], start=1):
        world.partner.edit_deal(link.partner_id, {"closedate": f"2027-0{n}-15T00:00:00.000Z"})
        for other in links[5 : 5 + n % 3]:
            world.rep.edit_deal(other.rep_id, {"dealname": f"Renamed {n}"})
        live.next_cycle()
    world.make_conflict(links[5], partner_amount="48000", rep_amount="52500")
    world.make_dead_letter(links[6])
    live.next_cycle()
    world.sandbox.portal("partner2").rotate_token("rotated-by-an-admin")
    live.daemon.run_soon(OTHER)
    failing = live.daemon.health.failing_pairs
    wait_for(lambda: OTHER in failing(), "the refused pair")
    return links[0].partner_id


def shoot(browser: Browser, folder: Path, deal: str) -> list[Path]:
    pages = {
        "login": "/login",
        "pairs": "/",
        "sync-log": f"/pairs/{PAIR}",
        "deal": f"/deal?pair={PAIR}&id={deal}",
        "conflicts": "/conflicts",
        "dead-letters": "/dead-letters",
    }
    written = []
    for name, page in pages.items():
        if name == "pairs":
            browser.sign_in(*OPERATOR)
        browser.open(page)
        path = folder / f"{name}.png"
        browser.screenshot(path)
        written.append(path)
    return written


def main(folder: Path) -> int:
    missing = chromium_missing()
    if missing:
        sys.stderr.write(f"screenshots need chromium: {missing}\n")
        return 2
    folder.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as scratch,
        environment(token_environment()),
        console_world(Path(scratch), deals=60) as world,
        live_daemon(world) as live,
    ):
        deal = make_history(live)
        with chromium(live.url) as browser:
            for path in shoot(browser, folder, deal):
                sys.stdout.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")))
