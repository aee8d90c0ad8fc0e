"""Signing in and out, and the two things an operator does: settle a conflict, retry a dead
letter. Both go through the code the CLI runs (``ops.resolution.resolve_conflict``; the store's
``retry_dead_letters_now``), and each is logged with who did it."""

from __future__ import annotations

import asyncio

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from sync_worker.kernel.errors import ConfigError, ConflictNotFound, ConnectorError, WriteRefused
from sync_worker.ops.resolution import Take, resolve_conflict
from sync_worker.runtime.console_settings import ConsoleUser
from sync_worker.service.console.security import CSRF_FIELD, csrf_ok
from sync_worker.service.console.web import Console, action, console_of, log, signed_in


def _next_page(raw: object) -> str:
    """Where to go after signing in: a path of this console only (never another site)."""
    if isinstance(raw, str) and raw.startswith("/") and not raw.startswith(("//", "/\\")):
        return raw
    return "/"


async def login_form(request: Request) -> Response:
    console = console_of(request)
    if signed_in(request) is not None:
        return RedirectResponse(_next_page(request.query_params.get("next")), status_code=303)
    return console.render(
        request, "login.html", None, next=_next_page(request.query_params.get("next"))
    )


async def login(request: Request) -> Response:
    console = console_of(request)
    form = await request.form()
    name = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    target = _next_page(form.get("next"))
    client = request.client.host if request.client else "unknown"
    keys = (f"user:{name}", f"client:{client}")

    def again(message: str, status: int) -> Response:
        return console.render(
            request, "login.html", None, status_code=status, next=target, error=message
        )

    if not csrf_ok(request, form.get(CSRF_FIELD)):
        log.warning("console_sign_in_refused", user=name, client=client, reason="csrf")
        return again("The form expired; please sign in again.", 403)
    wait = console.throttle.wait_seconds(keys)
    if wait > 0:
        log.warning("console_sign_in_throttled", user=name, client=client, wait_seconds=wait)
        return again(f"Too many failed sign-ins; try again in {int(wait) + 1} s.", 429)
    user = console.credentials.verify(name, password)
    if user is None:
        console.throttle.failed(keys)
        log.warning("console_sign_in_failed", user=name, client=client)
        await asyncio.sleep(console.login_delay)
        return again("Wrong name or password.", 401)
    console.throttle.succeeded(keys)
    request.session.clear()  # a fresh session (and CSRF token) for the person signing in
    request.session.update({"user": user.name, "role": user.role.value})
    log.info("console_signed_in", user=user.name, role=user.role.value, client=client)
    return RedirectResponse(target, status_code=303)


async def logout(request: Request) -> Response:
    form = await request.form()
    user = signed_in(request)
    if csrf_ok(request, form.get(CSRF_FIELD)):
        request.session.clear()
        log.info("console_signed_out", user=user.name if user else None)
    return RedirectResponse("/login", status_code=303)


def _flash(request: Request, message: str) -> None:
    request.session["flash"] = message


@action
async def resolve(request: Request, console: Console, user: ConsoleUser) -> Response:
    form = await request.form()
    pair = str(form.get("pair") or "")
    conflict_id = int(request.path_params["conflict_id"])
    try:
        take = Take(str(form.get("take")))
        ctx = console.deps.runtime.pairs[pair]
    except (ValueError, KeyError):
        _flash(request, "Not resolved: choose partner, rep or dismiss for a known pair.")
        return RedirectResponse("/conflicts", status_code=303)
    run_id = f"console:{user.name}"
    try:
        done = await run_in_threadpool(resolve_conflict, ctx, conflict_id, take, run_id=run_id)
    except (ConflictNotFound, WriteRefused, ConnectorError, ConfigError) as exc:
        log.warning(
            "console_conflict_not_resolved",
            user=user.name,
            pair=pair,
            conflict_id=conflict_id,
            reason=str(exc),
        )
        _flash(request, f"Conflict {conflict_id} not resolved: {exc}")
        return RedirectResponse("/conflicts", status_code=303)
    log.info(
        "console_conflict_resolved",
        user=user.name,
        pair=pair,
        conflict_id=conflict_id,
        field=done.conflict.field,
        take=take.value,
        written_to=str(done.written_to) if done.written_to else None,
    )
    where = f"; wrote {done.value!r} to the {done.written_to}" if done.written_to else ""
    _flash(
        request, f"Conflict {conflict_id} ({done.conflict.field}) resolved: {done.taken}{where}."
    )
    return RedirectResponse("/conflicts", status_code=303)


@action
async def retry(request: Request, console: Console, user: ConsoleUser) -> Response:
    form = await request.form()
    pair = str(form.get("pair") or "")
    letter_id = int(request.path_params["letter_id"])
    rt = console.deps.runtime
    if pair not in rt.pairs:
        _flash(request, f"Not retried: no pair named {pair!r}.")
        return RedirectResponse("/dead-letters", status_code=303)
    count = await run_in_threadpool(
        rt.store.retry_dead_letters_now, pair, [letter_id], rt.clock.now()
    )
    soon = bool(count) and console.deps.run_soon(pair)
    log.info(
        "console_dead_letter_retried",
        user=user.name,
        pair=pair,
        letter_id=letter_id,
        made_due=count,
        cycle_requested=soon,
    )
    if not count:
        _flash(request, f"Dead letter {letter_id} is no longer open.")
    else:
        when = "now" if soon else "on the pair's next cycle"
        _flash(request, f"Dead letter {letter_id} is due: the pair retries it {when}.")
    return RedirectResponse("/dead-letters", status_code=303)
