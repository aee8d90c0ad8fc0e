"""A small stateful fake of HubSpot's CRM v3 deal endpoints, for respx and httpx.MockTransport.

Storage and validation are :class:`tests.doubles.memory.InMemoryConnector`'s; this module adds the
HTTP shapes: search with ``after`` offsets and the 10,000-result cap (``after + limit > cap`` is
a 400), 207 batch bodies (``OBJECT_NOT_FOUND`` with ``context.ids``, ``VALIDATION_ERROR`` with
``context.objectWriteTraceId``), owners paging, pipelines, properties, bearer-token checks, an
optional all-or-nothing batch mode and a queue of injected responses.
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from sync_worker.connectors.base import Filter, RecordCreate, RecordFailure, RecordUpdate, Scope
from sync_worker.kernel.clock import FakeClock
from sync_worker.kernel.model import DealRecord
from tests.doubles.memory import InMemoryConnector

DEALS = "/crm/v3/objects/deals"
TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"
NOT_FOUND_MESSAGE = (
    "Could not get some DEAL objects, they may be deleted or not exist. Check that ids are valid."
)
ALWAYS = ("hs_object_id", "hs_lastmodifieddate", "createdate")
Json = dict[str, Any]


def error_body(category: str, message: str, **extra: Any) -> Json:
    return {
        "status": "error",
        "message": message,
        "correlationId": "a43683b0-5717-4ceb-80b4-104d02915d8c",
        "category": category,
        **extra,
    }


def _filters(group: Mapping[str, Any]) -> list[Filter]:
    out = []
    for raw in group.get("filters", []):
        values = tuple(raw.get("values", ()))
        if raw.get("highValue") is not None:
            values = (raw["value"], raw["highValue"])
        out.append(Filter(raw["propertyName"], raw["operator"], raw.get("value"), values))
    return out


class FakeHubSpot:
    """One portal. ``handle`` is an ``httpx`` handler; ``requests`` records what was sent."""

    def __init__(
        self,
        clock: FakeClock,
        *,
        cap: int = 10_000,
        store: InMemoryConnector | None = None,
        token: str = TOKEN,
    ) -> None:
        self.clock = clock
        self.store = store or InMemoryConnector(clock)
        self.cap = cap
        self.token = token
        self.requests: list[httpx.Request] = []
        self.injected: deque[httpx.Response] = deque()
        self.all_or_nothing = False
        self.echo_trace_ids = False
        self.rate_headers: dict[str, str] = {}
        self.after_search: Callable[[int], None] | None = None
        self._searches = 0

    # -- knobs ----------------------------------------------------------------------------

    def inject(self, *responses: httpx.Response) -> None:
        """Answer the next requests with these responses (then behave normally)."""
        self.injected.extend(responses)

    def count(self, fragment: str) -> int:
        return sum(1 for r in self.requests if r.url.path.endswith(fragment))

    # -- dispatch -------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.injected:
            return self.injected.popleft()
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return httpx.Response(
                401,
                json=error_body("INVALID_AUTHENTICATION", "Authentication credentials not found."),
            )
        route = self._route(request.method, request.url.path)
        if route is None:
            return httpx.Response(404, json=error_body("OBJECT_NOT_FOUND", "Not found."))
        body = json.loads(request.content) if request.content else {}
        status, payload = route(body, request)
        headers = self.rate_headers if not request.url.path.endswith("/search") else {}
        return httpx.Response(status, json=payload, headers=headers)

    def _route(
        self, method: str, path: str
    ) -> Callable[[Json, httpx.Request], tuple[int, Json]] | None:
        routes: dict[tuple[str, str], Callable[[Json, httpx.Request], tuple[int, Json]]] = {
            ("POST", f"{DEALS}/search"): lambda b, _: self.search(b),
            ("POST", f"{DEALS}/batch/read"): lambda b, _: self.batch_read(b),
            ("POST", f"{DEALS}/batch/update"): lambda b, _: self.batch_update(b),
            ("POST", f"{DEALS}/batch/upsert"): lambda b, _: self.batch_upsert(b),
            ("POST", f"{DEALS}/batch/create"): lambda b, _: self.batch_create(b),
            ("GET", "/crm/v3/owners"): lambda _, r: self.owners(r),
            ("GET", "/crm/v3/pipelines/deals"): lambda _, __: self.pipelines(),
            ("GET", "/crm/v3/properties/deals"): lambda _, __: self.properties(),
        }
        for (verb, suffix), handler in routes.items():
            if method == verb and path.endswith(suffix):
                return handler
        return None

    # -- search ---------------------------------------------------------------------------

    def search(self, body: Json) -> tuple[int, Json]:
        groups = body.get("filterGroups") or [{}]
        if any(len(g.get("filters", [])) > 6 for g in groups) or len(body.get("sorts", [])) > 1:
            return 400, error_body("VALIDATION_ERROR", "Too many filters or sorts.")
        limit = int(body.get("limit", 10))
        offset = int(body.get("after") or 0)
        if limit > 200 or offset + limit > self.cap:
            return 400, error_body("VALIDATION_ERROR", f"Cannot page past {self.cap} results.")
        if len(groups) > 5 or sum(len(g.get("filters", [])) for g in groups) > 18:
            return 400, error_body("VALIDATION_ERROR", "Too many filter groups or filters.")
        by_id = (body.get("sorts") or [{}])[0].get("propertyName") == "hs_object_id"
        scope = Scope(tuple(tuple(_filters(g)) for g in groups))
        total, page = self.store.search(scope, by_id=by_id, offset=offset, limit=limit)
        props = body.get("properties") or [
            "dealname",
            "amount",
            "closedate",
            "pipeline",
            "dealstage",
        ]
        payload: Json = {"total": total, "results": [self.deal_json(r, props) for r in page]}
        if offset + limit < total:
            payload["paging"] = {"next": {"after": str(offset + limit), "link": "?after=x"}}
        self._searches += 1
        if self.after_search is not None:
            self.after_search(self._searches)
        return 200, payload

    def deal_json(
        self, record: DealRecord, props: Sequence[str], history: Sequence[str] = ()
    ) -> Json:
        full = self.store.get(record.id) or record
        stamps = full.property_timestamps
        out: Json = {
            "id": record.id,
            "properties": {p: full.properties.get(p) for p in dict.fromkeys([*props, *ALWAYS])},
            "createdAt": full.properties.get("createdate"),
            "updatedAt": full.properties.get("hs_lastmodifieddate"),
            "archived": full.archived,
        }
        if history:
            out["propertiesWithHistory"] = {
                p: [
                    {
                        "value": full.properties.get(p) or "",
                        "timestamp": stamps[p].isoformat(),
                        "sourceType": "API",
                    }
                ]
                for p in history
                if p in stamps
            }
        return out

    # -- batches --------------------------------------------------------------------------

    def batch_read(self, body: Json) -> tuple[int, Json]:
        ids = [str(i["id"]) for i in body.get("inputs", [])]
        if len(ids) > 100:
            return 400, error_body("VALIDATION_ERROR", "Too many inputs.")
        history = body.get("propertiesWithHistory") or []
        result = self.store.read(
            ids,
            body.get("properties") or [],
            id_property=body.get("idProperty"),
            with_history=bool(history),
        )
        results = [
            self.deal_json(r, body.get("properties") or [], history) for r in result.found.values()
        ]
        errors = []
        if result.missing:
            errors.append(
                error_body(
                    "OBJECT_NOT_FOUND",
                    NOT_FOUND_MESSAGE,
                    context={"ids": list(result.missing)},
                )
            )
        return self._batch_reply(results, errors)

    def _write_errors(
        self, failed: Sequence[RecordFailure], traces: Mapping[str, str]
    ) -> list[Json]:
        errors = []
        for failure in failed:
            if failure.gone:
                errors.append(
                    error_body(
                        "OBJECT_NOT_FOUND",
                        "Could not get some DEAL objects, they may be deleted or not exist.",
                        context={"ids": [failure.id]},
                    )
                )
            else:
                category = (
                    "CONFLICT" if failure.reason.startswith("CONFLICT") else "VALIDATION_ERROR"
                )
                errors.append(
                    error_body(
                        category,
                        failure.reason,
                        context={"objectWriteTraceId": [traces[failure.id]]},
                    )
                )
        return errors

    def _refuse_whole_batch(self, inputs: Sequence[Json], key: str) -> tuple[int, Json] | None:
        if not self.all_or_nothing:
            return None
        for item in inputs:
            deal_id = item["id"] if key == "id" else None
            problem = self.store.problem_with(item.get("properties", {}), deal_id)
            if problem:
                return 400, error_body("VALIDATION_ERROR", problem)
        return None

    def batch_update(self, body: Json) -> tuple[int, Json]:
        inputs = body.get("inputs", [])
        if len(inputs) > 100:
            return 400, error_body("VALIDATION_ERROR", "Too many inputs.")
        refused = self._refuse_whole_batch(inputs, "id")
        if refused:
            return refused
        traces = {str(i["id"]): i.get("objectWriteTraceId", "") for i in inputs}
        result = self.store.update([RecordUpdate(str(i["id"]), i["properties"]) for i in inputs])
        results = [
            self._written_json(r, traces.get(k, ""), list(inputs[0]["properties"]))
            for k, r in result.written.items()
        ]
        return self._batch_reply(results, self._write_errors(result.failed, traces))

    def batch_upsert(self, body: Json) -> tuple[int, Json]:
        inputs = body.get("inputs", [])
        if len(inputs) > 100:
            return 400, error_body("VALIDATION_ERROR", "Too many inputs.")
        refused = self._refuse_whole_batch(inputs, "key")
        if refused:
            return refused
        id_property = inputs[0]["idProperty"] if inputs else "id"
        traces = {str(i["id"]): i.get("objectWriteTraceId", "") for i in inputs}
        result = self.store.upsert(
            [RecordCreate(str(i["id"]), i["properties"]) for i in inputs], id_property
        )
        results = [
            self._written_json(r, traces.get(k, ""), [id_property, *inputs[0]["properties"]])
            for k, r in result.written.items()
        ]
        return self._batch_reply(results, self._write_errors(result.failed, traces))

    def batch_create(self, body: Json) -> tuple[int, Json]:
        """Per-input (207) errors when every input carries an objectWriteTraceId, as HubSpot
        documents; the unique property is the one of the inputs' properties that is unique."""
        inputs = body.get("inputs", [])
        if len(inputs) > 100:
            return 400, error_body("VALIDATION_ERROR", "Too many inputs.")
        names = inputs[0].get("properties", {}) if inputs else {}
        id_property = next(n for n in names if n in self.store.unique_properties())
        traces = {
            str(i["properties"][id_property]): i.get("objectWriteTraceId", "") for i in inputs
        }
        result = self.store.create(
            [RecordCreate(str(i["properties"][id_property]), i["properties"]) for i in inputs],
            id_property,
        )
        results = [
            self._written_json(r, traces.get(k, ""), [id_property, *names])
            for k, r in result.written.items()
        ]
        return self._batch_reply(results, self._write_errors(result.failed, traces))

    def _written_json(self, record: DealRecord, trace: str, props: Sequence[str]) -> Json:
        out = self.deal_json(record, props)
        if self.echo_trace_ids:
            out["objectWriteTraceId"] = trace
        return out

    @staticmethod
    def _batch_reply(results: list[Json], errors: list[Json]) -> tuple[int, Json]:
        payload: Json = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": "2026-01-01T00:00:00.000Z",
            "completedAt": "2026-01-01T00:00:00.100Z",
        }
        if errors:
            payload |= {"numErrors": len(errors), "errors": errors}
        return (207 if errors else 200), payload

    # -- metadata -------------------------------------------------------------------------

    def owners(self, request: httpx.Request) -> tuple[int, Json]:
        archived = request.url.params.get("archived", "false") == "true"
        users = [u for u in self.store.owners() if u.active != archived]
        limit = int(request.url.params.get("limit", "100"))
        start = int(request.url.params.get("after", "0"))
        page = users[start : start + limit]
        payload: Json = {
            "results": [
                {
                    "id": u.id,
                    "email": u.email.upper() if i % 2 else u.email,
                    "firstName": "A",
                    "lastName": "B",
                    "userId": int(u.id) + 7,
                    "type": "PERSON",
                    "archived": not u.active,
                }
                for i, u in enumerate(page)
            ]
        }
        if start + limit < len(users):
            payload["paging"] = {"next": {"after": str(start + limit)}}
        return 200, payload

    def pipelines(self) -> tuple[int, Json]:
        return 200, {
            "results": [
                {
                    "id": p.id,
                    "label": p.label,
                    "displayOrder": n,
                    "archived": False,
                    "stages": [
                        {
                            "id": s.id,
                            "label": s.label,
                            "archived": False,
                            "metadata": {"isClosed": "false", "probability": "0.1"},
                        }
                        for s in p.stages
                    ],
                }
                for n, p in enumerate(self.store.pipelines())
            ]
        }

    def properties(self) -> tuple[int, Json]:
        return 200, {
            "results": [
                {
                    "name": d.name,
                    "label": d.name.title(),
                    "type": d.type,
                    "fieldType": d.field_type,
                    "options": [{"label": o, "value": o, "hidden": False} for o in d.options],
                    "modificationMetadata": {"readOnlyValue": d.read_only, "archivable": True},
                    "hasUniqueValue": d.unique,
                }
                for d in self.store.property_definitions().values()
            ]
        }


def pages_needed(count: int, size: int) -> int:
    return max(1, math.ceil(count / size))
