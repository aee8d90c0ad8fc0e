"""Run the sandbox with uvicorn: in a background thread (tests) or blocking (CLI).

``SandboxServer`` binds its own socket first, so ``port=0`` picks a free port that is known before
the server starts, then waits until uvicorn reports it is serving. Exiting the context stops
uvicorn and joins the thread; nothing is left open (no ResourceWarning under pytest).
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
from starlette.applications import Starlette

from sync_worker.sandbox.app import build_app
from sync_worker.sandbox.portal import Sandbox
from sync_worker.sandbox.spec import PortalSpec

START_TIMEOUT = 10.0


def _config(app: Starlette, host: str = "127.0.0.1", port: int = 0) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        http="h11",
        loop="asyncio",
        timeout_graceful_shutdown=2,
    )


def bind(host: str, port: int) -> socket.socket:
    """A bound TCP socket for uvicorn (port 0 = any free port)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit TCP_NODELAY: without it a response written as headers then
    # body waits for the client's delayed ACK (about 40 ms per request on Linux).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    return sock


class SandboxServer:
    """``with SandboxServer(sandbox) as server: httpx.get(server.base_url("partner") + ...)``."""

    def __init__(self, sandbox: Sandbox, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sandbox = sandbox
        self.host = host
        self._socket = bind(host, port)
        self.port: int = self._socket.getsockname()[1]
        self.app = build_app(sandbox)
        self._server = uvicorn.Server(_config(self.app))
        self._thread = threading.Thread(target=self._run, name="sandbox-server", daemon=True)

    def _run(self) -> None:
        self._server.run(sockets=[self._socket])

    def start(self) -> SandboxServer:
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the sandbox server did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=START_TIMEOUT)
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
            uvicorn.Server(_config(build_app(sandbox), host, port)).run(sockets=[sock])
