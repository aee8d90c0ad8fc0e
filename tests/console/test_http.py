"""The console over HTTP (served on loopback, read with httpx): who may read, who may act, the
security headers and cookies, CSRF, slowed sign-ins, and that each action is logged with who."""

from __future__ import annotations

import re

import httpx
import pytest
from structlog.testing import capture_logs

from sync_worker.service.console.auth import LoginThrottle
from sync_worker.service.console.security import CSP, SESSION_COOKIE
from tests.console.conftest import Requests
from tests.console.world import OPERATOR, PAIR, SESSION_SECRET, TOKENS, VIEWER, ConsoleWorld

PAGES = ("/", f"/pairs/{PAIR}", f"/deal?pair={PAIR}", "/conflicts", "/dead-letters")


def token_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None, page.text
    return found.group(1)


def sign_in(client: httpx.Client, who: tuple[str, str], **headers: str) -> httpx.Response:
    token = token_of(client.get("/login"))
    form = {"csrf": token, "username": who[0], "password": who[1], "next": "/conflicts"}
    return client.post("/login", data=form, headers=headers)


def open_conflict(world: ConsoleWorld) -> int:
    world.make_conflict(world.links(1)[0], partner_amount="7000", rep_amount="8000")
    world.cycle()
    [conflict] = [c for c in world.runtime.store.open_conflicts(PAIR) if c.rep_value == "8000"]
    assert conflict.id is not None
    return conflict.id


def test_every_page_needs_a_signed_in_person(client: httpx.Client) -> None:
    for page in PAGES:
        answer = client.get(page)
        assert answer.status_code == 303, page
        assert answer.headers["location"].startswith("/login?next=/")
    assert client.post("/conflicts/1/resolve", data={"take": "rep"}).status_code == 403
    assert client.get("/login").status_code == 200


def test_signed_in_a_viewer_reads_every_page(client: httpx.Client) -> None:
    assert sign_in(client, VIEWER).headers["location"] == "/conflicts"
    for page in PAGES:
        answer = client.get(page)
        assert answer.status_code == 200, page
        assert "grace (viewer)" in answer.text
        assert "/resolve" not in answer.text
        assert "/retry" not in answer.text


def test_headers_forbid_scripts_inline_styles_framing_and_caching(client: httpx.Client) -> None:
    sign_in(client, OPERATOR)
    for page in (*PAGES, "/login", "/static/console.css"):
        headers = client.get(page).headers
        assert headers["content-security-policy"] == CSP, page
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        if not page.startswith("/static"):
            assert headers["cache-control"] == "no-store"
    assert "script-src" not in CSP  # default-src 'none' covers scripts
    assert "default-src 'none'" in CSP
    assert "unsafe" not in CSP
    html = client.get("/").text
    assert "<script" not in html
    assert "style=" not in html
    assert "<style" not in html


def test_the_session_cookie_is_httponly_strict_and_secure_over_https(client: httpx.Client) -> None:
    plain = sign_in(client, OPERATOR).headers["set-cookie"].lower()
    assert plain.startswith(f"{SESSION_COOKIE}=")
    assert "httponly" in plain
    assert "samesite=strict" in plain
    assert "secure" not in plain  # a browser drops a Secure cookie sent over plain http

    client.cookies.clear()
    behind_tls = sign_in(client, OPERATOR, **{"X-Forwarded-Proto": "https"})  # a local proxy
    assert "; secure" in behind_tls.headers["set-cookie"].lower()


def test_a_tampered_cookie_is_no_session(client: httpx.Client) -> None:
    sign_in(client, VIEWER)
    cookie = client.cookies[SESSION_COOKIE]
    data, _, signature = cookie.partition(".")
    forged = data.replace(data[:4], "eyJy", 1)  # say {"r... instead
    client.cookies.set(SESSION_COOKIE, f"{forged}.{signature}")
    assert client.get("/").status_code == 303


def test_actions_need_the_sessions_csrf_token_and_the_same_origin(
    client: httpx.Client, world: ConsoleWorld
) -> None:
    conflict = open_conflict(world)
    sign_in(client, OPERATOR)
    token = token_of(client.get("/conflicts"))
    url = f"/conflicts/{conflict}/resolve"
    base = {"pair": PAIR, "take": "rep"}
    with capture_logs() as logs:
        refused = [
            client.post(url, data=base),
            client.post(url, data={**base, "csrf": "not-the-token"}),
            client.post(url, data={**base, "csrf": token}, headers={"Origin": "http://evil.test"}),
            client.post(url, data={**base, "csrf": token}, headers={"Origin": "null"}),
        ]
    assert [r.status_code for r in refused] == [403] * 4
    assert all("security token" in r.text for r in refused)
    assert conflict in {c.id for c in world.runtime.store.open_conflicts(PAIR)}
    events = [e for e in logs if e["event"] == "console_action_refused"]
    assert len(events) == 4
    assert {e["user"] for e in events} == {"ada"}


def test_a_viewer_cannot_act_even_with_a_valid_token(
    client: httpx.Client, world: ConsoleWorld, requests_made: Requests
) -> None:
    conflict = open_conflict(world)
    sign_in(client, VIEWER)
    token = token_of(client.get("/conflicts"))
    resolve = client.post(
        f"/conflicts/{conflict}/resolve", data={"pair": PAIR, "take": "rep", "csrf": token}
    )
    retry = client.post("/dead-letters/1/retry", data={"pair": PAIR, "csrf": token})
    assert resolve.status_code == retry.status_code == 403
    assert "operators only" in resolve.text
    assert conflict in {c.id for c in world.runtime.store.open_conflicts(PAIR)}
    assert requests_made.soon == []


def test_an_operator_resolves_a_conflict_and_the_log_says_who(
    client: httpx.Client, world: ConsoleWorld
) -> None:
    conflict = open_conflict(world)
    link = world.links(1)[0]
    sign_in(client, OPERATOR)
    token = token_of(client.get("/conflicts"))
    with capture_logs() as logs:
        done = client.post(
            f"/conflicts/{conflict}/resolve", data={"pair": PAIR, "take": "rep", "csrf": token}
        )
    assert (done.status_code, done.headers["location"]) == (303, "/conflicts")
    assert "resolved: rep; wrote &#39;8000&#39; to the partner" in client.get("/conflicts").text
    assert world.partner.get_deal(link.partner_id)["amount"] == "8000"  # type: ignore[index]
    [event] = [e for e in logs if e["event"] == "console_conflict_resolved"]
    assert (event["user"], event["conflict_id"], event["take"]) == ("ada", conflict, "rep")
    [change] = [
        c
        for c in world.runtime.store.changes_for(PAIR, link.partner_id)
        if c.rule == "manual" and c.run_id.startswith("console")
    ]
    assert change.run_id == "console:ada"


def test_retry_now_makes_the_letter_due_and_asks_for_a_cycle(
    client: httpx.Client, world: ConsoleWorld, requests_made: Requests
) -> None:
    link = world.links(1)[0]
    world.make_dead_letter(link)
    world.cycle()
    [(_, letter)] = world.runtime.store.dead_letters(PAIR)
    assert letter.next_attempt_at is not None
    assert letter.next_attempt_at > world.runtime.clock.now()
    sign_in(client, OPERATOR)
    token = token_of(client.get("/dead-letters"))
    with capture_logs() as logs:
        client.post(f"/dead-letters/{letter.id}/retry", data={"pair": PAIR, "csrf": token})
    [(_, due)] = world.runtime.store.dead_letters(PAIR)
    assert due.next_attempt_at is not None
    assert due.next_attempt_at <= world.runtime.clock.now()
    assert requests_made.soon == [PAIR]
    [event] = [e for e in logs if e["event"] == "console_dead_letter_retried"]
    assert (event["user"], event["letter_id"], event["made_due"]) == ("ada", letter.id, 1)
    assert "retries it now" in client.get("/dead-letters").text


def test_failed_sign_ins_are_slowed_down(client: httpx.Client, throttle: LoginThrottle) -> None:
    with capture_logs() as logs:
        answers = [sign_in(client, (OPERATOR[0], f"guess-{n}")) for n in range(3)]
        blocked = sign_in(client, OPERATOR)  # the right password, too soon
    assert [a.status_code for a in answers] == [401, 401, 401]
    assert blocked.status_code == 429
    assert "Too many failed sign-ins" in blocked.text
    assert client.get("/").status_code == 303  # still signed out
    assert [e["event"] for e in logs].count("console_sign_in_failed") == 3
    assert "guess-" not in str(logs)  # passwords tried are never logged
    assert OPERATOR[1] not in str(logs)
    assert "console_sign_in_throttled" in [e["event"] for e in logs]
    assert throttle.wait_seconds([f"user:{OPERATOR[0]}"]) > 0
    throttle.succeeded([f"user:{OPERATOR[0]}", "client:127.0.0.1"])  # as if the wait passed
    assert sign_in(client, OPERATOR).status_code == 303


def test_nothing_secret_is_ever_rendered(client: httpx.Client, world: ConsoleWorld) -> None:
    secrets = [*TOKENS.values(), OPERATOR[1], VIEWER[1], SESSION_SECRET]
    sign_in(client, OPERATOR)
    link = world.links(1)[0]
    pages = [*PAGES, f"/deal?pair={PAIR}&id={link.partner_id}", "/login"]
    for page in pages:
        text = client.get(page).text
        for secret in secrets:
            assert secret not in text, page


def test_sign_in_goes_back_only_to_the_consoles_own_pages(client: httpx.Client) -> None:
    token = token_of(client.get("/login"))
    for target in ("//evil.test/x", "https://evil.test/", "/\\evil.test"):
        client.cookies.clear()
        token = token_of(client.get("/login"))
        form = {"csrf": token, "username": OPERATOR[0], "password": OPERATOR[1], "next": target}
        assert client.post("/login", data=form).headers["location"] == "/"


@pytest.mark.parametrize("page", ["/pairs/nobody", "/deal?pair=nobody&id=1"])
def test_an_unknown_pair_says_so(client: httpx.Client, page: str) -> None:
    sign_in(client, VIEWER)
    answer = client.get(page)
    assert "no pair named &#39;nobody&#39;" in answer.text
