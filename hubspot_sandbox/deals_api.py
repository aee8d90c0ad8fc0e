"""Handlers for single-deal endpoints, listing, search, properties, pipelines and owners.

Assumptions where HubSpot is silent: ``DELETE`` of an unknown or archived id answers 204; the
list ``after`` cursor is the next deal's id; a list ``limit`` over 100 is a 400.
"""

from __future__ import annotations

from typing import Any

from hubspot_sandbox.calls import Call, Reply
from hubspot_sandbox.errors import bad_request, object_not_found
from hubspot_sandbox.properties import definition_json, iso_ms
from hubspot_sandbox.search import run_search
from hubspot_sandbox.search_parse import parse_search
from hubspot_sandbox.spec import Owner, Pipeline
from hubspot_sandbox.wire import (
    deal_json,
    object_body,
    parse_json,
    properties_of,
    query_flag,
    query_int,
    query_list,
    written_deal_json,
)

LIST_MAX = 100
MAX_SEARCH_BODY = 3000
"""The search guide: a request body over 3,000 characters is a 400 (the wording is ours)."""


async def list_deals(call: Call) -> Reply:
    request, portal = call.request, call.portal
    limit = query_int(request, "limit", 10, LIST_MAX)
    after = request.query_params.get("after") or "0"
    if not (after.isascii() and after.isdigit()):
        raise bad_request(f"Invalid after cursor {after!r}.")
    deals, next_id = portal.store.page_ids(
        int(after), limit, archived=query_flag(request, "archived")
    )
    props, history = query_list(request, "properties"), query_list(request, "propertiesWithHistory")
    body: dict[str, Any] = {
        "results": [deal_json(d, portal.book, props, history or ()) for d in deals]
    }
    if next_id is not None:
        link = f"{request.url.path}?after={next_id}"
        body["paging"] = {"next": {"after": str(next_id), "link": link}}
    return Reply(200, body)


async def get_deal(call: Call) -> Reply:
    request, portal = call.request, call.portal
    deal_id = call.path("deal_id")
    deal = portal.store.get(
        deal_id,
        id_property=request.query_params.get("idProperty"),
        archived=query_flag(request, "archived"),
    )
    if deal is None:
        raise object_not_found(deal_id)
    props, history = query_list(request, "properties"), query_list(request, "propertiesWithHistory")
    return Reply(200, deal_json(deal, portal.book, props, history or ()))


async def create_deal(call: Call) -> Reply:
    body = object_body(await call.json())
    deal = call.portal.store.create(properties_of(body))
    return Reply(201, written_deal_json(deal, call.portal.book))


async def update_deal(call: Call) -> Reply:
    body = object_body(await call.json())
    store = call.portal.store
    deal = store.require(
        call.path("deal_id"), id_property=call.request.query_params.get("idProperty")
    )
    store.update(deal, properties_of(body))
    return Reply(200, written_deal_json(deal, call.portal.book))


async def archive_deal(call: Call) -> Reply:
    store = call.portal.store
    deal = store.get(call.path("deal_id"))
    if deal is not None:
        store.archive(deal)
    return Reply(204)


async def search_deals(call: Call) -> Reply:
    portal = call.portal
    raw = await call.request.body()
    if len(raw) > MAX_SEARCH_BODY:
        raise bad_request(
            f"The search request body is {len(raw)} characters; the limit is {MAX_SEARCH_BODY}.",
            subCategory="REQUEST_TOO_LARGE",
        )
    request = parse_search(parse_json(raw), portal.book)
    lag = portal.index_lag_seconds()
    cutoff = portal.now_ms() - int(lag * 1000) if lag > 0 else None
    page = run_search(request, portal.store, cutoff, portal.search_cache)
    body: dict[str, Any] = {
        "total": page.total,
        "results": [deal_json(d, portal.book, request.properties) for d in page.results],
    }
    if page.next_after is not None:
        body["paging"] = {"next": {"after": page.next_after}}
    return Reply(200, body)


async def list_properties(call: Call) -> Reply:
    book = call.portal.book
    results = [
        definition_json(prop, [(o.label, o.value) for o in prop.options])
        for prop in book.defs.values()
    ]
    return Reply(200, {"results": results})


async def list_pipelines(call: Call) -> Reply:
    pipelines = call.portal.spec.pipelines
    return Reply(200, {"results": [_pipeline_json(p, i) for i, p in enumerate(pipelines)]})


async def list_owners(call: Call) -> Reply:
    request = call.request
    # archived=true lists only archived (deactivated) owners, the default only active ones: the
    # harsher reading of "whether to return only results that have been archived".
    archived = request.query_params.get("archived", "false").lower() == "true"
    owners = [o for o in call.portal.owners if o.archived == archived]
    email = request.query_params.get("email")
    if email:
        owners = [o for o in owners if o.email.lower() == email.lower()]
    limit = query_int(request, "limit", 100, 500)
    after = request.query_params.get("after") or "0"
    start = int(after) if after.isdigit() else 0
    body: dict[str, Any] = {"results": [_owner_json(o) for o in owners[start : start + limit]]}
    if start + limit < len(owners):
        body["paging"] = {"next": {"after": str(start + limit)}}
    return Reply(200, body)


def _pipeline_json(pipeline: Pipeline, order: int) -> dict[str, Any]:
    epoch = iso_ms(0)
    stages = [
        {
            "id": s.id,
            "label": s.label,
            "displayOrder": i,
            "archived": False,
            "metadata": {"probability": str(s.probability), "isClosed": str(s.closed).lower()},
            "createdAt": epoch,
            "updatedAt": epoch,
        }
        for i, s in enumerate(pipeline.stages)
    ]
    return {
        "id": pipeline.id,
        "label": pipeline.label,
        "displayOrder": order,
        "archived": False,
        "createdAt": epoch,
        "updatedAt": epoch,
        "stages": stages,
    }


def _owner_json(owner: Owner) -> dict[str, Any]:
    epoch = iso_ms(0)
    return {
        "id": owner.id,
        "email": owner.email,
        "firstName": owner.first_name,
        "lastName": owner.last_name,
        "userId": owner.user_id,
        "userIdIncludingInactive": owner.user_id,
        "type": "PERSON",
        "teams": [],
        "archived": owner.archived,
        "createdAt": epoch,
        "updatedAt": epoch,
    }
