"""What every console response and form post goes through.

* **Headers**: a strict Content-Security-Policy (only the console's own stylesheet; no script,
  no inline style, no frames, forms post only to the console), ``nosniff``, no referrer to
  other sites, no caching of pages.
* **Sessions**: Starlette's signed cookie (itsdangerous), ``HttpOnly`` and ``SameSite=Strict``;
  ``Secure`` when the request came over HTTPS (directly, or through a trusted proxy's
  ``X-Forwarded-Proto``) or when ``console.https`` says people always reach it that way.
* **CSRF**: a random token per session, in a hidden field of every form; a post whose field
  does not match (or whose ``Origin`` is another site) is refused before anything happens.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import MutableMapping
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    # Not "no-referrer": with it Chrome sends `Origin: null` on the console's own form posts.
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}
SESSION_COOKIE = "sync_console"
CSRF_FIELD = "csrf"


class SecurityHeaders:
    """Adds :data:`HEADERS` to every response, and ``Cache-Control: no-store`` to all but the
    stylesheet (pages show live data, and one person's page must not be served to another)."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers[name] = value
                if not static:
                    headers["cache-control"] = "no-store"
            await send(message)

        await self._app(scope, receive, send_with_headers)


class Sessions:
    """Starlette's :class:`SessionMiddleware`, ``Secure`` per request: one instance with the
    flag for HTTPS requests, one without for plain HTTP (a browser drops a ``Secure`` cookie
    set over HTTP on 127.0.0.1, so sign-in would silently fail there)."""

    def __init__(self, app: ASGIApp, *, secret: str, max_age: int, always_secure: bool) -> None:
        options: dict[str, Any] = {
            "secret_key": secret,
            "session_cookie": SESSION_COOKIE,
            "max_age": max_age,
            "same_site": "strict",
        }
        self._secure = SessionMiddleware(app, https_only=True, **options)
        self._plain = self._secure if always_secure else SessionMiddleware(app, **options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chosen = self._secure if scope.get("scheme") in ("https", "wss") else self._plain
        await chosen(scope, receive, send)


def csrf_token(session: MutableMapping[str, Any]) -> str:
    """The session's CSRF token, made on first use."""
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


def csrf_ok(request: Request, submitted: object) -> bool:
    """True when the form's token is the session's and the post comes from the console's own
    origin (browsers send ``Origin`` with every form post; a missing one is accepted)."""
    expected = request.session.get(CSRF_FIELD)
    if not isinstance(expected, str) or not isinstance(submitted, str):
        return False
    if not hmac.compare_digest(submitted.encode(), expected.encode()):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    own = f"{request.url.scheme}://{request.url.netloc}"
    return origin == own


def new_secret() -> str:
    """A session-signing key for this process when none is configured."""
    return secrets.token_urlsafe(48)
