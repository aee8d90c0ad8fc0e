"""Run the sandbox: in a background thread (tests, the demo) or blocking (``sync-worker sandbox``).

``SandboxServer`` runs uvicorn on a thread: the socket is bound first, so ``port=0`` picks a
free port known before the server starts. Exiting the context stops uvicorn and joins the
thread; nothing is left open. The sandbox has its own server code: it is a separate package
and imports nothing of the worker.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import TextIO

import uvicorn
from starlette.types import ASGIApp

from hubspot_sandbox.app import build_app
from hubspot_sandbox.portal import Sandbox
from hubspot_sandbox.spec import PortalSpec

_START_TIMEOUT_SECONDS = 10.0


def bind(host: str, port: int) -> socket.socket:
    """A bound TCP socket (port 0 = any free port); a busy port raises OSError."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Without TCP_NODELAY a reply written as headers then body waits ~40 ms for an ACK.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _config(app: ASGIApp) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        log_config=None,
        http="h11",
        loop="asyncio",
        timeout_graceful_shutdown=2,
    )


class SandboxServer:
    """``with SandboxServer(sandbox) as server: httpx.get(server.base_url("partner") + ...)``."""

    def __init__(self, sandbox: Sandbox, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sandbox = sandbox
        self.host = host
        self.app = build_app(sandbox)
        self._socket = bind(host, port)
        self.port: int = self._socket.getsockname()[1]
        self._server = uvicorn.Server(_config(self.app))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def start(self) -> SandboxServer:
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the sandbox on {self.host}:{self.port} did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=_START_TIMEOUT_SECONDS)
        self._socket.close()

    def use(self, sandbox: Sandbox) -> None:
        """Serve ``sandbox`` from now on, without restarting (e.g. a fresh one per test)."""
        self.sandbox = sandbox
        self.app.state.sandbox = sandbox

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

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
    return [f"{s.name}: {url}/{s.name}  token={s.token}  tier={s.tier}" for s in sandbox.specs]


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
    from hubspot_sandbox.seed import demo_portals
    from hubspot_sandbox.seed import seed_demo as fill

    sandbox = Sandbox(portals if portals is not None else demo_portals(tier=tier), seed=seed)
    if seed_demo and portals is None:
        fill(sandbox, deals=deals, seed=seed)
    with bind(host, port) as sock:
        url = f"http://{host}:{sock.getsockname()[1]}"
        # Listening before the URLs are printed: a client that reads them and connects at once
        # waits in the backlog until uvicorn accepts, instead of being refused.
        sock.listen(2048)
        print("HubSpot sandbox serving:", *describe(sandbox, url), sep="\n  ", file=out, flush=True)
        with contextlib.suppress(KeyboardInterrupt):  # ^C is the normal way to stop it
            uvicorn.Server(_config(build_app(sandbox))).run(sockets=[sock])
