"""The web console: what the CLI shows, as pages a person can open, served by the daemon.

Off unless ``[console] enabled = true``; its own listener (``console.host``, 127.0.0.1 by
default, ``console.port``), apart from ``/metrics`` (which a container exposes on 0.0.0.0).

Pages (server-rendered Jinja2 templates and one stylesheet, all shipped in this package; no
script anywhere; charts are SVG drawn on the server):

* ``/`` pairs: last run, outcome, lag, links, conflicts, dead letters, out of scope, daily budget
  per credential, who holds the pair, the last failure; red where ``/healthz`` is red;
* ``/pairs/{pair}`` the sync log: each cycle's counts and outcome, and charts over time;
* ``/deal`` search by either side's id: the ``explain`` view;
* ``/conflicts`` and ``/dead-letters``: lists, and for operators resolve / retry now.

Security: see :mod:`~sync_worker.service.console.security` (headers, cookies, CSRF),
:mod:`~sync_worker.service.console.auth` (passwords, throttling) and
:mod:`~sync_worker.service.console.web` (who may read, who may act).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from sync_worker.runtime.console_settings import ConsoleSettings, ConsoleUser
from sync_worker.service.console import actions, pages
from sync_worker.service.console.auth import Credentials, LoginThrottle
from sync_worker.service.console.security import SecurityHeaders, Sessions, new_secret
from sync_worker.service.console.web import LOGIN_FAILURE_DELAY_SECONDS, Console, ConsoleDeps

__all__ = ["ConsoleDeps", "build_console"]


def build_console(
    deps: ConsoleDeps,
    settings: ConsoleSettings,
    users: tuple[ConsoleUser, ...],
    *,
    throttle: LoginThrottle | None = None,
    login_delay: float = LOGIN_FAILURE_DELAY_SECONDS,
) -> Starlette:
    """The console as an ASGI app, for :class:`~sync_worker.service.http.ThreadedServer`."""
    console = Console(
        deps,
        settings,
        Credentials(users),
        throttle=throttle or LoginThrottle(),
        login_delay=login_delay,
    )
    secret = settings.session_secret.get_secret_value() if settings.session_secret else None
    routes = [
        Route("/", pages.pairs_page),
        Route("/pairs/{pair}", pages.pair_page),
        Route("/deal", pages.deal_page),
        Route("/conflicts", pages.conflicts_page),
        Route("/conflicts/{conflict_id:int}/resolve", actions.resolve, methods=["POST"]),
        Route("/dead-letters", pages.dead_letters_page),
        Route("/dead-letters/{letter_id:int}/retry", actions.retry, methods=["POST"]),
        Route("/login", actions.login_form),
        Route("/login", actions.login, methods=["POST"]),
        Route("/logout", actions.logout, methods=["POST"]),
        Mount("/static", StaticFiles(packages=[("sync_worker.service.console", "static")])),
    ]
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(
            Sessions,
            secret=secret or new_secret(),
            max_age=settings.session_minutes * 60,
            always_secure=settings.https,
        ),
    ]
    app = Starlette(routes=routes, middleware=middleware)
    app.state.console = console
    return app
