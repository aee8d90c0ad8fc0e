"""The console in a real browser: headless Chromium against a real daemon (scheduler, console
server) syncing the sandbox CRMs over loopback HTTP.

One daemon and one browser serve the whole module (starting them is most of the cost); each test
makes its own deals, conflicts and dead letters, so the tests do not depend on their order. The
second pair (``agency-002``) is the one whose token gets revoked.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from sync_worker.service.http import ThreadedServer
from tests.console.browser import Browser, Live, chromium, chromium_missing, live_daemon, wait_for
from tests.console.world import (
    OPERATOR,
    OTHER,
    PAIR,
    REFUSED_OPTION,
    VIEWER,
    console_world,
    token_environment,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing())),
]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with pytest.MonkeyPatch.context() as env:
        for name in list(os.environ):
            if name.startswith("SYNC_WORKER_") and name != "SYNC_WORKER_TEST_PG_URL":
                env.delenv(name)
        for name, value in token_environment().items():
            env.setenv(name, value)
        with console_world(tmp_path_factory.mktemp("console")) as world, live_daemon(world) as up:
            yield up


@pytest.fixture(scope="module")
def browser_session(live: Live) -> Iterator[Browser]:
    with chromium(live.url) as made:
        yield made


@pytest.fixture
def browser(browser_session: Browser) -> Browser:
    """Signed out at the start of each test; no CSP violation left over."""
    browser_session.sign_out()
    browser_session.open("/login")
    browser_session.csp_violations()
    return browser_session


def operator(browser: Browser) -> Browser:
    browser.sign_in(*OPERATOR)
    assert browser.text("#signed-in-as") == "ada (operator)"
    return browser


def test_nothing_without_signing_in_and_a_wrong_password_is_refused(browser: Browser) -> None:
    for page in ("/", "/pairs/agency-001", "/deal?pair=agency-001&id=1", "/conflicts"):
        browser.open(page)
        assert browser.path.startswith("/login?next="), page
        assert "agency-001" not in browser.find("main").text
    browser.open("/dead-letters")
    browser.sign_in(OPERATOR[0], "not-the-password")
    assert "Wrong name or password" in browser.text("#login-error")
    browser.find("#username").clear()
    browser.sign_in(*OPERATOR)
    assert browser.path == "/dead-letters"  # back where the person wanted to go
    assert browser.csp_violations() == []


def test_pairs_page_and_a_pair_turns_red_when_its_token_is_refused(
    browser: Browser, live: Live
) -> None:
    operator(browser).open("/")
    assert browser.find(f"#pair-{PAIR}").get_attribute("class") == "ok"
    assert "partner: " in browser.find(f"#pair-{PAIR}").text  # the daily budget left
    live.world.sandbox.portal("partner2").rotate_token("pat-na1-rotated-elsewhere")
    live.daemon.run_soon(OTHER)

    browser.reload_until(
        lambda: browser.find(f"#pair-{OTHER}").get_attribute("class") == "failing",
        "the pair whose token was refused to turn red",
    )
    row = browser.find(f"#pair-{OTHER}").text
    assert "auth" in row
    assert "401" in row
    assert browser.find(f"#pair-{PAIR}").get_attribute("class") == "ok"
    assert "Unhealthy" in browser.text(".summary")
    assert browser.csp_violations() == []


def test_a_pairs_sync_log_shows_its_cycles_and_charts(browser: Browser, live: Live) -> None:
    live.next_cycle()
    operator(browser).open("/")
    browser.submit(f"#pair-{PAIR} a")
    assert browser.path == f"/pairs/{PAIR}"
    rows = browser.all("#runs tbody tr")
    assert len(rows) == live.runs()
    assert "ok" in rows[-1].text
    charts = browser.all("figure.chart svg polyline")
    assert len(charts) == 3  # duration, changes, API calls
    assert browser.csp_violations() == []


def test_open_a_deals_explanation(browser: Browser, live: Live) -> None:
    [link] = live.world.links(1)
    operator(browser).open("/deal")
    browser.find("#deal-id").send_keys(link.rep_id)  # the rep's id finds it too
    browser.submit("#explain")

    assert browser.text("#partner-deal") == link.partner_id
    assert browser.text("#rep-deal") == link.rep_id
    amount = browser.find("#field-amount").text
    assert "manual" in amount
    assert "in sync" in amount
    assert "created" in browser.text("#history")  # the change the first cycle made
    assert browser.csp_violations() == []


def test_resolve_a_conflict_and_the_next_cycle_keeps_it(browser: Browser, live: Live) -> None:
    world = live.world
    link = world.links(3)[1]
    world.make_conflict(link, partner_amount="111111", rep_amount="222222")
    live.next_cycle()
    [conflict] = [
        c for c in world.runtime.store.open_conflicts(PAIR) if c.partner_id == link.partner_id
    ]

    operator(browser).open("/conflicts")
    row = browser.find(f"#conflict-{conflict.id}").text
    assert "111111" in row
    assert "222222" in row
    browser.submit(f"#resolve-{conflict.id}-partner")

    assert browser.path == "/conflicts"
    assert "wrote '111111' to the rep" in browser.text("#flash")
    assert browser.all(f"#conflict-{conflict.id}") == []
    assert world.rep.get_deal(link.rep_id)["amount"] == "111111"  # type: ignore[index]
    live.next_cycle()  # the worker's own write comes back and plans nothing
    assert world.partner.get_deal(link.partner_id)["amount"] == "111111"  # type: ignore[index]
    assert world.rep.get_deal(link.rep_id)["amount"] == "111111"  # type: ignore[index]
    browser.open(f"/deal?pair={PAIR}&id={link.partner_id}")
    assert "in sync" in browser.find("#field-amount").text
    assert "console:ada" in browser.text("#history")  # who settled it, in the audit log
    assert browser.csp_violations() == []


def test_retry_a_dead_letter_now(browser: Browser, live: Live) -> None:
    world = live.world
    link = world.links(4)[2]
    world.make_dead_letter(link)
    live.next_cycle()
    [(_, letter)] = [
        row for row in world.runtime.store.dead_letters(PAIR) if row[1].record_id == link.rep_id
    ]
    assert letter.next_attempt_at is not None
    assert (letter.next_attempt_at - world.runtime.clock.now()).total_seconds() > 60
    operator(browser).open("/dead-letters")
    row = browser.find(f"#letter-{letter.id}").text
    assert REFUSED_OPTION in row
    assert "was not one of the allowed options" in row
    attempts = browser.find(f"#letter-{letter.id} td:nth-child(5)")
    assert attempts.text == "1"

    browser.submit(f"#retry-{letter.id}")  # long before its backoff is due

    assert "the pair retries it now" in browser.text("#flash")
    browser.reload_until(
        lambda: browser.find(f"#letter-{letter.id} td:nth-child(5)").text == "2",
        "the retry the button asked for",
    )
    world.fix_dead_letter(link)
    live.next_cycle()
    browser.open("/dead-letters")
    assert browser.all(f"#letter-{letter.id}") == []
    assert browser.csp_violations() == []


ATTACKER_PAGE = """<!doctype html><title>win a prize</title>
<form method="post" action="{url}/conflicts/{id}/resolve">
<input type="hidden" name="pair" value="{pair}"><input type="hidden" name="take" value="rep">
<input type="hidden" name="csrf" value="guessed-token">
<button id="claim" type="submit">Claim your prize</button></form>"""


def test_a_form_posted_from_another_site_is_refused(browser: Browser, live: Live) -> None:
    """CSRF: a page elsewhere (here another port, which browsers count as the same site, so
    the cookie goes along) posts a resolve form; without the session's token it is refused."""
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    world = live.world
    link = world.links(5)[3]
    world.make_conflict(link, partner_amount="333333", rep_amount="444444")
    live.next_cycle()
    [conflict] = [
        c for c in world.runtime.store.open_conflicts(PAIR) if c.partner_id == link.partner_id
    ]
    page = ATTACKER_PAGE.format(url=live.url, id=conflict.id, pair=PAIR)
    attacker = Starlette(routes=[Route("/", lambda _: HTMLResponse(page))])
    operator(browser)

    with ThreadedServer(attacker, name="attacker") as elsewhere:
        browser.driver.get(elsewhere.url)
        browser.submit("#claim")
        assert "security token is missing or wrong" in browser.text("#refused")

    assert conflict.id in {c.id for c in world.runtime.store.open_conflicts(PAIR)}
    assert world.partner.get_deal(link.partner_id)["amount"] == "333333"  # type: ignore[index]
    browser.open("/")
    assert browser.text("#signed-in-as") == "ada (operator)"  # still signed in, nothing done


def test_a_viewer_reads_everything_and_cannot_act(browser: Browser, live: Live) -> None:
    world = live.world
    link = world.links(6)[4]
    world.make_conflict(link, partner_amount="555555", rep_amount="666666")
    live.next_cycle()
    browser.sign_in(*VIEWER)
    assert browser.text("#signed-in-as") == "grace (viewer)"
    for page in ("/", f"/pairs/{PAIR}", "/conflicts", "/dead-letters", f"/deal?pair={PAIR}"):
        browser.open(page)
        assert browser.all("#refused") == [], page
    browser.open("/conflicts")
    assert "555555" in browser.find("#conflicts").text
    assert browser.all("td.actions button") == []  # no buttons for a viewer

    # Even a well-formed post (with the viewer's own valid token) is refused by the server.
    [conflict] = [
        c for c in world.runtime.store.open_conflicts(PAIR) if c.partner_id == link.partner_id
    ]
    browser.driver.execute_script(
        """const form = document.createElement('form');
        form.method = 'post'; form.action = arguments[0];
        for (const [name, value] of Object.entries(arguments[1])) {
          const input = document.createElement('input');
          input.type = 'hidden'; input.name = name; input.value = value; form.appendChild(input);
        }
        document.body.appendChild(form); form.submit();""",
        f"/conflicts/{conflict.id}/resolve",
        {
            "pair": PAIR,
            "take": "partner",
            "csrf": browser.find("input[name=csrf]").get_attribute("value"),
        },
    )
    wait_for(lambda: bool(browser.all("#refused")), "the refusal page")
    assert "operators only" in browser.text("#refused")
    assert conflict.id in {c.id for c in world.runtime.store.open_conflicts(PAIR)}


def test_the_stylesheet_is_the_only_resource_and_it_applies(browser: Browser) -> None:
    operator(browser).open("/")
    color = browser.find("header.top").value_of_css_property("background-color")
    assert color == "rgba(16, 42, 67, 1)"  # from console.css: the CSP let it through
    assert browser.all("script") == []
    assert browser.csp_violations() == []
