"""The console's Starlette app: its parts, the sign-in guards, and rendering.

Every page needs a signed-in person (a viewer or an operator); every action (a form post) needs
an operator and the session's CSRF token. A person who is not signed in is sent to the sign-in
page; a viewer who posts an action, or a post without the right token, gets 403 and nothing
happens. Each refusal is logged (``console_action_refused``) with who and why.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import jinja2
import structlog
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from sync_worker.runtime.console_settings import ConsoleSettings, ConsoleUser
from sync_worker.runtime.wiring import Runtime
from sync_worker.service.console import formats
from sync_worker.service.console.auth import Credentials, LoginThrottle, may_act
from sync_worker.service.console.security import CSRF_FIELD, csrf_ok, csrf_token
from sync_worker.service.metrics import Health

log = structlog.stdlib.get_logger("sync_worker.service.console")

LOGIN_FAILURE_DELAY_SECONDS = 0.5
"""Every failed sign-in answers this much later (the throttle adds more after a few)."""


@dataclass(slots=True)
class ConsoleDeps:
    """What the console reads and acts through: the daemon's runtime (store, pair contexts,
    limiters), its health, and a way to ask for a pair's cycle soon."""

    runtime: Runtime
    health: Health
    run_soon: Callable[[str], bool] = lambda _pair: False


@dataclass(slots=True)
class Console:
    deps: ConsoleDeps
    settings: ConsoleSettings
    credentials: Credentials
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    login_delay: float = LOGIN_FAILURE_DELAY_SECONDS
    templates: Jinja2Templates = field(init=False)

    def __post_init__(self) -> None:
        env = jinja2.Environment(
            loader=jinja2.PackageLoader("sync_worker.service.console", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters["when"] = formats.when
        env.filters["shown"] = formats.shown
        env.globals["ago"] = formats.ago
        self.templates = Jinja2Templates(env=env)

    def render(
        self,
        request: Request,
        template: str,
        user: ConsoleUser | None,
        *,
        status_code: int = 200,
        **context: Any,
    ) -> Response:
        flash = request.session.pop("flash", None)
        return self.templates.TemplateResponse(
            request,
            template,
            {
                "user": user,
                "may_act": user is not None and may_act(user),
                "csrf": csrf_token(request.session),
                "csrf_field": CSRF_FIELD,
                "flash": flash if isinstance(flash, str) else None,
                "now": self.deps.runtime.clock.now(),
                "active": "",
                "error": None,
                **context,
            },
            status_code=status_code,
        )


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def signed_in(request: Request) -> ConsoleUser | None:
    console = console_of(request)
    return console.credentials.current(request.session.get("user"), request.session.get("role"))


Handler = Callable[[Request, Console, ConsoleUser], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def page(handler: Handler) -> Endpoint:
    """A page any signed-in person may read; others are sent to sign in first."""

    async def endpoint(request: Request) -> Response:
        user = signed_in(request)
        if user is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        return await handler(request, console_of(request), user)

    return endpoint


def action(handler: Handler) -> Endpoint:
    """A form post only an operator may make, with the session's CSRF token."""

    async def endpoint(request: Request) -> Response:
        console = console_of(request)
        user = signed_in(request)
        form = await request.form()
        reason = _refusal(request, user, form.get(CSRF_FIELD))
        if reason is None and user is not None:
            return await handler(request, console, user)
        log.warning(
            "console_action_refused",
            user=user.name if user else None,
            path=request.url.path,
            reason=reason,
        )
        return console.render(request, "refused.html", user, status_code=403, reason=reason)

    return endpoint


def _refusal(request: Request, user: ConsoleUser | None, token: object) -> str | None:
    if not csrf_ok(request, token):
        return "the form's security token is missing or wrong (CSRF); reload the page"
    if user is None:
        return "sign in first"
    if not may_act(user):
        return "operators only: a viewer can read every page but change nothing"
    return None


def not_found(request: Request, user: ConsoleUser, what: str) -> Response:
    return console_of(request).render(request, "refused.html", user, status_code=404, reason=what)
