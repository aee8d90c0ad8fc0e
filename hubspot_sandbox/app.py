"""The Starlette application: every portal at ``/<portal>`` + HubSpot's paths.

Each API request goes through one pipeline (:func:`_serve`): find the portal, check the bearer
token, count against rate limits, draw faults, run the handler, render JSON, count the outcome.
Object type ``deals`` and its id ``0-3`` both work; other object types are 404. Tokens are never
logged (uvicorn's access log is off in :mod:`hubspot_sandbox.server`).
"""

from __future__ import annotations

import asyncio
import email.utils
import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from hubspot_sandbox import admin, batch, deals_api
from hubspot_sandbox.calls import Call, Handler, Reply, sandbox_of
from hubspot_sandbox.errors import SandboxApiError, correlation_id, error_body, unauthorized
from hubspot_sandbox.faults import FaultPlan, server_error_body, truncate
from hubspot_sandbox.portal import Portal, Sandbox

DEAL_TYPES = ("deals", "0-3")
OBJECTS = "/{portal}/crm/v3/objects/{object_type}"
Endpoint = Callable[[Request], Awaitable[Response]]


def build_app(sandbox: Sandbox) -> Starlette:
    """The ASGI app serving every portal of ``sandbox`` (kept in ``app.state.sandbox``)."""

    def api(name: str, handler: Handler, *, search: bool = False) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            return await _serve(sandbox_of(request), name, handler, request, search=search)

        return endpoint

    routes: list[BaseRoute] = [
        Route(
            f"{OBJECTS}/search",
            api("search", deals_api.search_deals, search=True),
            methods=["POST"],
        ),
        Route(f"{OBJECTS}/batch/read", api("batch_read", batch.batch_read), methods=["POST"]),
        Route(f"{OBJECTS}/batch/create", api("batch_create", batch.batch_create), methods=["POST"]),
        Route(f"{OBJECTS}/batch/update", api("batch_update", batch.batch_update), methods=["POST"]),
        Route(f"{OBJECTS}/batch/upsert", api("batch_upsert", batch.batch_upsert), methods=["POST"]),
        Route(
            f"{OBJECTS}/batch/archive", api("batch_archive", batch.batch_archive), methods=["POST"]
        ),
        Route(OBJECTS, api("list", deals_api.list_deals), methods=["GET"]),
        Route(OBJECTS, api("create", deals_api.create_deal), methods=["POST"]),
        Route(f"{OBJECTS}/{{deal_id}}", api("get", deals_api.get_deal), methods=["GET"]),
        Route(f"{OBJECTS}/{{deal_id}}", api("update", deals_api.update_deal), methods=["PATCH"]),
        Route(f"{OBJECTS}/{{deal_id}}", api("archive", deals_api.archive_deal), methods=["DELETE"]),
        Route(
            "/{portal}/crm/v3/properties/{object_type}",
            api("properties", deals_api.list_properties),
            methods=["GET"],
        ),
        Route(
            "/{portal}/crm/v3/pipelines/{object_type}",
            api("pipelines", deals_api.list_pipelines),
            methods=["GET"],
        ),
        Route("/{portal}/crm/v3/owners", api("owners", deals_api.list_owners), methods=["GET"]),
        Route("/{portal}/crm/v3/owners/", api("owners", deals_api.list_owners), methods=["GET"]),
        *admin.routes(),
    ]
    app = Starlette(routes=routes)
    app.state.sandbox = sandbox
    return app


async def _serve(
    sandbox: Sandbox, name: str, handler: Handler, request: Request, *, search: bool
) -> Response:
    portal = sandbox.find(request.path_params["portal"])
    if portal is None or request.path_params.get("object_type", "deals") not in DEAL_TYPES:
        return _json(404, error_body(f"Unknown path {request.url.path}", "OBJECT_NOT_FOUND"))
    if not _authorised(portal, request):
        return _counted(portal, name, _error_response(unauthorized()))
    response = await _admitted(portal, name, handler, request, search=search)
    response.headers["X-HubSpot-Correlation-Id"] = correlation_id()
    # The portal's own clock (a test's fake one included), as HubSpot sends its server time.
    response.headers["Date"] = email.utils.format_datetime(portal.clock.now(), usegmt=True)
    return _counted(portal, name, response)


async def _admitted(
    portal: Portal, name: str, handler: Handler, request: Request, *, search: bool
) -> Response:
    forced = portal.faults.plan(name)
    limiter = portal.limiter
    verdict = limiter.force_refusal(search=search) if forced.rate_limited else None
    if verdict is None:
        verdict = limiter.admit(search=search)
    # Counted on arrival, answered after the portal's simulated response time (429s too).
    delay = portal.latency.draw()
    if verdict.refusal is not None:
        await _pause(delay)
        return _json(429, verdict.refusal, verdict.headers)
    await _pause(delay + forced.delay)
    if forced.server_error is not None and not forced.after_write:
        return _json(forced.server_error, server_error_body(forced.server_error), verdict.headers)
    response = await _handle(Call(portal, request), handler, verdict.headers)
    return _with_faults(response, forced, verdict.headers)


async def _pause(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)


CLIENT_CLOSED_REQUEST = 499  # nginx's name for it; never seen by a client


async def _handle(call: Call, handler: Handler, headers: dict[str, str]) -> Response:
    try:
        reply: Reply = await handler(call)
    except SandboxApiError as err:
        return _json(err.status, err.body, headers)
    except ClientDisconnect:
        # The client gave up (a timeout) while its body was read: nobody will read an answer.
        return Response(status_code=CLIENT_CLOSED_REQUEST, headers=headers)
    if reply.body is None:
        return Response(status_code=reply.status, headers=headers)
    return _json(reply.status, reply.body, headers)


def _with_faults(response: Response, plan: FaultPlan, headers: dict[str, str]) -> Response:
    if plan.server_error is not None:
        return _json(plan.server_error, server_error_body(plan.server_error), headers)
    if plan.malformed and response.status_code < 300 and response.body:
        broken = truncate(bytes(response.body))
        return Response(broken, status_code=200, headers=headers, media_type="application/json")
    return response


def _authorised(portal: Portal, request: Request) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    return hmac.compare_digest(token.strip().encode(), portal.spec.token.encode())


def _counted(portal: Portal, name: str, response: Response) -> Response:
    portal.count(name, response.status_code)
    return response


def _error_response(err: SandboxApiError) -> Response:
    return _json(err.status, err.body)


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    data = json.dumps(body, separators=(",", ":")).encode()
    return Response(data, status_code=status, headers=headers, media_type="application/json")
