"""The admin API under ``/<portal>/__sandbox/``: drive a sandbox running in another process.

No token is needed (the sandbox is a local test tool bound to 127.0.0.1 by default) and admin
calls are neither rate limited, faulted nor counted.

| method | path | body | does |
|---|---|---|---|
| GET | counters | | ``{"counters": {endpoint: {status: n}}, "total": n}`` |
| POST | counters/reset | | zero the counters |
| GET/POST | faults | FaultSpec fields | read / replace the fault settings |
| GET | deals | ``?ids=1,2`` optional | every active deal's properties (or those of ``ids``) |
| POST | deals | ``{"properties", "source"?, "at"?}`` | create as a user -> ``{"id"}`` |
| POST | deals/{id} | ``{"properties", "source"?, "at"?}`` | edit as a user |
| POST | deals/{id}/archive, deals/{id}/register | | archive / register (as in the UI) |
| POST | deals/{id}/unregister | | the deal's registration ends |
| POST | deals/{id}/restore | | restore an archived deal (as in the UI) |
| POST | deals/{id}/merge | ``{"merged_id"}`` | merge that deal into this one (as in the UI) |
| GET | webhooks | | ``{"target_url", "stats"}`` (``null`` when off); never the secret |
| POST | webhooks | WebhookSpec fields | deliver events to ``target_url`` from now on |
| DELETE | webhooks | | stop delivering |
| POST | bulk_load | ``{"deals": [props], "modified_at"?}`` | fast import -> ``{"ids"}`` |
| GET/POST | latency | ``{"min_seconds", "max_seconds"}`` | read / set the simulated response time |
| POST | tier | ``{"tier"}`` | switch the rate-limit tier (fresh windows and day count) |

``at``/``modified_at`` are ISO-8601 or epoch ms.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hubspot_sandbox.calls import sandbox_of
from hubspot_sandbox.clock import from_epoch_ms
from hubspot_sandbox.errors import SandboxApiError, bad_request, error_body
from hubspot_sandbox.faults import FaultSpec
from hubspot_sandbox.portal import Portal
from hubspot_sandbox.properties import parse_datetime_ms
from hubspot_sandbox.webhooks import WebhookSpec
from hubspot_sandbox.wire import object_body, parse_json, properties_of

AdminHandler = Callable[[Portal, Request], Awaitable[Response]]
PREFIX = "/{portal}/__sandbox"


def routes() -> list[Route]:
    def wrap(handler: AdminHandler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            portal = sandbox_of(request).find(request.path_params["portal"])
            if portal is None:
                return JSONResponse(error_body("Unknown portal", "OBJECT_NOT_FOUND"), 404)
            try:
                return await handler(portal, request)
            except SandboxApiError as err:
                return JSONResponse(err.body, err.status)
            except (ValueError, TypeError) as exc:
                return JSONResponse(bad_request(str(exc)).body, 400)

        return endpoint

    return [
        Route(f"{PREFIX}/counters", wrap(_counters), methods=["GET"]),
        Route(f"{PREFIX}/counters/reset", wrap(_reset), methods=["POST"]),
        Route(f"{PREFIX}/faults", wrap(_get_faults), methods=["GET"]),
        Route(f"{PREFIX}/faults", wrap(_set_faults), methods=["POST"]),
        Route(f"{PREFIX}/deals", wrap(_deals), methods=["GET"]),
        Route(f"{PREFIX}/deals", wrap(_create), methods=["POST"]),
        Route(f"{PREFIX}/deals/{{deal_id}}", wrap(_edit), methods=["POST"]),
        Route(f"{PREFIX}/deals/{{deal_id}}/archive", wrap(_archive), methods=["POST"]),
        Route(f"{PREFIX}/deals/{{deal_id}}/register", wrap(_register), methods=["POST"]),
        Route(f"{PREFIX}/deals/{{deal_id}}/unregister", wrap(_unregister), methods=["POST"]),
        Route(f"{PREFIX}/deals/{{deal_id}}/restore", wrap(_restore), methods=["POST"]),
        Route(f"{PREFIX}/deals/{{deal_id}}/merge", wrap(_merge), methods=["POST"]),
        Route(f"{PREFIX}/bulk_load", wrap(_bulk_load), methods=["POST"]),
        Route(f"{PREFIX}/latency", wrap(_get_latency), methods=["GET"]),
        Route(f"{PREFIX}/latency", wrap(_set_latency), methods=["POST"]),
        Route(f"{PREFIX}/tier", wrap(_set_tier), methods=["POST"]),
        Route(f"{PREFIX}/webhooks", wrap(_get_webhooks), methods=["GET"]),
        Route(f"{PREFIX}/webhooks", wrap(_set_webhooks), methods=["POST"]),
        Route(f"{PREFIX}/webhooks", wrap(_stop_webhooks), methods=["DELETE"]),
    ]


async def _counters(portal: Portal, _request: Request) -> Response:
    counters = {name: {str(k): v for k, v in c.items()} for name, c in portal.counters.items()}
    return JSONResponse({"counters": counters, "total": portal.total_requests})


async def _reset(portal: Portal, _request: Request) -> Response:
    portal.reset_counters()
    return Response(status_code=204)


async def _get_faults(portal: Portal, _request: Request) -> Response:
    return JSONResponse(portal.faults.spec.to_json())


async def _set_faults(portal: Portal, request: Request) -> Response:
    portal.set_faults(FaultSpec.from_json(await _body(request)))
    return JSONResponse(portal.faults.spec.to_json())


async def _deals(portal: Portal, request: Request) -> Response:
    wanted = request.query_params.get("ids")
    if wanted is None:
        return JSONResponse({"results": portal.deals()})
    found = (portal.get_deal(deal_id) for deal_id in wanted.split(",") if deal_id)
    return JSONResponse({"results": [deal for deal in found if deal is not None]})


async def _create(portal: Portal, request: Request) -> Response:
    body = await _body(request)
    deal_id = portal.create_deal(
        properties_of(body), source=str(body.get("source", "CRM_UI")), at=_when(body.get("at"))
    )
    return JSONResponse({"id": deal_id}, 201)


async def _edit(portal: Portal, request: Request) -> Response:
    body = await _body(request)
    deal_id = str(request.path_params["deal_id"])
    portal.edit_deal(
        deal_id,
        properties_of(body),
        source=str(body.get("source", "CRM_UI")),
        at=_when(body.get("at")),
    )
    return JSONResponse({"id": deal_id})


async def _archive(portal: Portal, request: Request) -> Response:
    portal.archive_deal(str(request.path_params["deal_id"]))
    return Response(status_code=204)


async def _register(portal: Portal, request: Request) -> Response:
    portal.register_deal(str(request.path_params["deal_id"]))
    return Response(status_code=204)


async def _unregister(portal: Portal, request: Request) -> Response:
    portal.end_registration(str(request.path_params["deal_id"]))
    return Response(status_code=204)


async def _restore(portal: Portal, request: Request) -> Response:
    portal.restore_deal(str(request.path_params["deal_id"]))
    return Response(status_code=204)


async def _merge(portal: Portal, request: Request) -> Response:
    body = await _body(request)
    portal.merge_deals(str(request.path_params["deal_id"]), str(body.get("merged_id", "")))
    return Response(status_code=204)


async def _get_webhooks(portal: Portal, _request: Request) -> Response:
    delivery = portal.webhooks
    if delivery is None:
        return JSONResponse({"target_url": None, "stats": None})
    return JSONResponse({"target_url": delivery.spec.target_url, "stats": delivery.stats.to_json()})


async def _set_webhooks(portal: Portal, request: Request) -> Response:
    spec = WebhookSpec.from_json(await _body(request))
    await run_in_threadpool(portal.configure_webhooks, spec)  # stopping the old one joins threads
    return await _get_webhooks(portal, request)


async def _stop_webhooks(portal: Portal, _request: Request) -> Response:
    await run_in_threadpool(portal.configure_webhooks, None)
    return Response(status_code=204)


async def _bulk_load(portal: Portal, request: Request) -> Response:
    body = await _body(request)
    rows = body.get("deals")
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise bad_request("deals must be a list of property objects.")
    ids = portal.bulk_load(rows, modified_at=_when(body.get("modified_at")))
    return JSONResponse({"ids": ids})


async def _get_latency(portal: Portal, _request: Request) -> Response:
    latency = portal.latency
    return JSONResponse({"min_seconds": latency.low, "max_seconds": latency.high})


async def _set_latency(portal: Portal, request: Request) -> Response:
    body = await _body(request)
    portal.set_latency(float(body.get("min_seconds", 0.0)), float(body.get("max_seconds", 0.0)))
    return await _get_latency(portal, request)


async def _set_tier(portal: Portal, request: Request) -> Response:
    portal.set_tier(str((await _body(request)).get("tier")))
    return JSONResponse({"tier": portal.spec.tier})


async def _body(request: Request) -> dict[str, Any]:
    return object_body(parse_json(await request.body()) or {})


def _when(raw: Any) -> datetime | None:
    if raw is None:
        return None
    epoch_ms = parse_datetime_ms(str(raw))
    if epoch_ms is None:
        raise bad_request(f"Not a date/time: {raw!r}")
    return from_epoch_ms(epoch_ms)
