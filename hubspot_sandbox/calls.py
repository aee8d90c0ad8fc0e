"""The small request/reply values every endpoint handler works with."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from hubspot_sandbox.portal import Portal, Sandbox
from hubspot_sandbox.wire import parse_json


@dataclass(frozen=True, slots=True)
class Call:
    """One authenticated API call to ``portal``."""

    portal: Portal
    request: Request

    async def json(self) -> Any:
        return parse_json(await self.request.body())

    def path(self, name: str) -> str:
        return str(self.request.path_params[name])


@dataclass(frozen=True, slots=True)
class Reply:
    """Status and JSON body (None = empty body, e.g. 204)."""

    status: int
    body: Any = None


Handler = Callable[[Call], Awaitable[Reply]]


def sandbox_of(request: Request) -> Sandbox:
    """The sandbox the app serves now (``SandboxServer.use`` can swap it)."""
    sandbox = request.app.state.sandbox
    assert isinstance(sandbox, Sandbox)  # noqa: S101 - set by build_app only
    return sandbox
