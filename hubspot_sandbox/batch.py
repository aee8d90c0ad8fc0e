"""Batch endpoints: read, create, update, upsert, archive (at most 100 inputs each).

Partial failure follows reference §1: batch read/update/upsert answer 207 with one
``OBJECT_NOT_FOUND`` error listing every unknown id, plus one error per input that failed
validation or a unique-value check (assumption: HubSpot does not document whether such an input
fails the whole batch; the sandbox answers 207 and applies the other inputs). A failed input's
``objectWriteTraceId`` is echoed in ``error.context`` (and a successful input's on its result)
when it was given; without one a validation error carries no way back to the input. Batch
create is all-or-nothing (the first error becomes the response) unless the inputs carry
``objectWriteTraceId`` s, which opts into 207.
Duplicate ids in one batch update/upsert are a 400.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hubspot_sandbox.calls import Call, Reply
from hubspot_sandbox.errors import SandboxApiError, bad_request, batch_not_found
from hubspot_sandbox.portal import Portal
from hubspot_sandbox.records import Deal
from hubspot_sandbox.wire import (
    batch_inputs,
    batch_response,
    deal_json,
    object_body,
    properties_of,
    query_flag,
    string_list,
    written_deal_json,
)

TRACE = "objectWriteTraceId"


async def batch_read(call: Call) -> Reply:
    portal, body = call.portal, object_body(await call.json())
    inputs, started = batch_inputs(body), portal.now_ms()
    id_property = body.get("idProperty")
    props, history = (
        string_list(body.get("properties")),
        string_list(body.get("propertiesWithHistory")),
    )
    archived = query_flag(call.request, "archived")
    found: list[Deal] = []
    missing: list[dict[str, Any]] = []
    with portal.store.lock:
        for item in inputs:
            deal = portal.store.get(str(item.get("id")), id_property=id_property, archived=archived)
            if deal is None:
                missing.append(item)
            else:
                found.append(deal)
        results = [deal_json(d, portal.book, props, history or ()) for d in found]
    errors = [_missing_error(missing)] if missing else []
    return Reply(207 if errors else 200, batch_response(results, errors, started, portal.now_ms()))


async def batch_create(call: Call) -> Reply:
    portal, inputs = call.portal, batch_inputs(await call.json())
    started = portal.now_ms()
    if not any(TRACE in item for item in inputs):
        with portal.store.lock:
            ids = portal.store.bulk_create([properties_of(i) for i in inputs], started, "API")
            results = [written_deal_json(portal.store.require(i), portal.book) for i in ids]
        return Reply(201, batch_response(results, [], started, portal.now_ms()))
    results, errors = [], []
    with portal.store.lock:
        for item in inputs:
            try:
                deal = portal.store.create(properties_of(item))
                results.append(_traced(written_deal_json(deal, portal.book), item))
            except SandboxApiError as err:
                errors.append(_input_error(err, item))
    status = 207 if errors else 201
    return Reply(status, batch_response(results, errors, started, portal.now_ms()))


async def batch_update(call: Call) -> Reply:
    portal, inputs = call.portal, batch_inputs(await call.json())
    started = portal.now_ms()
    _reject_duplicates(inputs)
    results, errors, missing = [], [], []
    with portal.store.lock:
        for item in inputs:
            deal = portal.store.get(str(item.get("id")), id_property=item.get("idProperty"))
            if deal is None:
                missing.append(item)
                continue
            try:
                portal.store.update(deal, properties_of(item))
                results.append(_traced(written_deal_json(deal, portal.book), item))
            except SandboxApiError as err:
                errors.append(_input_error(err, item))
    if missing:
        errors.insert(0, _missing_error(missing))
    status = 207 if errors else 200
    return Reply(status, batch_response(results, errors, started, portal.now_ms()))


async def batch_upsert(call: Call) -> Reply:
    portal, inputs = call.portal, batch_inputs(await call.json())
    started = portal.now_ms()
    _reject_duplicates(inputs)
    for item in inputs:
        _require_unique(portal, item.get("idProperty"))
    results, errors = [], []
    with portal.store.lock:
        for item in inputs:
            try:
                results.append(_traced(_upsert_one(portal, item), item))
            except SandboxApiError as err:
                errors.append(_input_error(err, item))
    status = 207 if errors else 200
    return Reply(status, batch_response(results, errors, started, portal.now_ms()))


async def batch_archive(call: Call) -> Reply:
    portal, inputs = call.portal, batch_inputs(await call.json())
    with portal.store.lock:
        for item in inputs:
            deal = portal.store.get(str(item.get("id")))
            if deal is not None:
                portal.store.archive(deal)
    return Reply(204)


def _upsert_one(portal: Portal, item: dict[str, Any]) -> dict[str, Any]:
    id_property, key = str(item["idProperty"]), str(item.get("id", ""))
    props = properties_of(item)
    deal = portal.store.get(key, id_property=id_property)
    if deal is None:
        deal = portal.store.create({**props, id_property: key})
        return {**written_deal_json(deal, portal.book), "new": True}
    portal.store.update(deal, props)
    return {**written_deal_json(deal, portal.book), "new": False}


def _traced(result: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """Echo the input's ``objectWriteTraceId`` on its result (SimplePublicObject field)."""
    if TRACE in item:
        result[TRACE] = str(item[TRACE])
    return result


def _require_unique(portal: Portal, id_property: Any) -> None:
    prop = portal.book.defs.get(str(id_property)) if id_property else None
    if prop is None or not prop.unique:
        raise bad_request(
            f"idProperty {id_property!r} is not a property with unique values; "
            "batch upsert needs one (e.g. a custom property with hasUniqueValue).",
        )


def _reject_duplicates(inputs: Sequence[dict[str, Any]]) -> None:
    ids = [str(item.get("id")) for item in inputs]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise bad_request(f"Duplicate IDs found in batch input: {duplicates}. IDs must be unique")


def _input_error(err: SandboxApiError, item: dict[str, Any]) -> dict[str, Any]:
    """One failed input as a StandardError inside a 207 body."""
    error = {k: v for k, v in err.body.items() if k != "correlationId"}
    error.setdefault("errors", [])
    context = dict(error.get("context") or {})
    if TRACE in item:
        context[TRACE] = [str(item[TRACE])]
    error["context"] = context
    return error


def _missing_error(missing: Sequence[dict[str, Any]]) -> dict[str, Any]:
    error = batch_not_found([str(item.get("id")) for item in missing])
    traces = [str(item[TRACE]) for item in missing if TRACE in item]
    if traces:
        error["context"][TRACE] = traces
    return error
