"""Run the sandbox: in a background thread (tests, the demo) or blocking (``sync-worker sandbox``).

``SandboxServer`` is a :class:`~sync_worker.http_thread.ThreadedServer` serving the sandbox's
app: the socket is bound first, so ``port=0`` picks a free port known before the server starts.
Exiting the context stops uvicorn and joins the thread; nothing is left open.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from types import TracebackType
from typing import TextIO

from sync_worker.http_thread import ThreadedServer, bind, serve_blocking
from sync_worker.sandbox.app import build_app
from sync_worker.sandbox.portal import Sandbox
from sync_worker.sandbox.spec import PortalSpec


class SandboxServer:
    """``with SandboxServer(sandbox) as server: httpx.get(server.base_url("partner") + ...)``."""

    def __init__(self, sandbox: Sandbox, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sandbox = sandbox
        self.host = host
        self.app = build_app(sandbox)
        self._server = ThreadedServer(self.app, host=host, port=port, name="sandbox-server")
        self.port: int = self._server.port

    def start(self) -> SandboxServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def use(self, sandbox: Sandbox) -> None:
        """Serve ``sandbox`` from now on, without restarting (e.g. a fresh one per test)."""
        self.sandbox = sandbox
        self.app.state.sandbox = sandbox

    @property
    def url(self) -> str:
        return self._server.url

    def base_url(self, portal: str) -> str:
        """``http://host:port/<portal>``: give it to a HubSpot client as its API base URL."""
        self.sandbox.portal(portal)
        return f"{self.url}/{portal}"

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def describe(sandbox: Sandbox, url: str) -> list[str]:
    """One line per portal: name, base URL, token (the sandbox's own tokens are not secrets)."""
    return [
        f"{p.name}: {url}/{p.name}  token={p.spec.token}  tier={p.spec.tier}"
        for p in sandbox.portals
    ]


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    seed_demo: bool = True,
    tier: str = "free",
    deals: int = 300,
    seed: int = 0,
    portals: Sequence[PortalSpec] | None = None,
    out: TextIO | None = None,
) -> None:
    """Blocking entry for ``sync-worker sandbox``: build portals, print their URLs, serve until ^C.

    Returns normally on ^C (SIGINT); SIGTERM stops uvicorn gracefully, then the process exits
    by the signal.

    Without ``portals`` it serves the demo "partner" and "rep" portals at ``tier`` (seeded with
    ``deals`` shared deals when ``seed_demo``). ``port=0`` picks a free port; the printed lines
    carry the real one.
    """
    from sync_worker.sandbox.seed import demo_portals
    from sync_worker.sandbox.seed import seed_demo as fill

    sandbox = Sandbox(portals if portals is not None else demo_portals(tier=tier), seed=seed)
    if seed_demo and portals is None:
        fill(sandbox, deals=deals, seed=seed)
    with bind(host, port) as sock:
        url = f"http://{host}:{sock.getsockname()[1]}"
        print("HubSpot sandbox serving:", *describe(sandbox, url), sep="\n  ", file=out, flush=True)
        with contextlib.suppress(KeyboardInterrupt):  # ^C is the normal way to stop it
            serve_blocking(build_app(sandbox), sock)
