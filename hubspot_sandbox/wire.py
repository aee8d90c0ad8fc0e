"""Deals and request details in HubSpot's JSON shapes (reference §1, §3).

Which properties a response carries (assumptions where the docs conflict): when ``properties``
is not given, the defaults (dealname, amount, closedate, pipeline, dealstage) plus
hs_object_id, createdate and hs_lastmodifieddate; when given, the requested ones plus those three.
A requested property that exists but has no value is returned as ``null`` (deals guide) rather
than left out (object-API guide); a requested property that does not exist is ignored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from starlette.requests import Request

from hubspot_sandbox.errors import SandboxApiError, bad_request, error_body
from hubspot_sandbox.properties import ALWAYS_RETURNED, DEFAULT_RETURNED, PropertyBook, iso_ms
from hubspot_sandbox.records import Deal

MAX_BATCH = 100


def deal_json(
    deal: Deal,
    book: PropertyBook,
    properties: Sequence[str] | None,
    history: Sequence[str] = (),
) -> dict[str, Any]:
    """A SimplePublicObject; ``properties`` None = the defaults."""
    names = _names(book, properties)
    out: dict[str, Any] = {
        "id": str(deal.id),
        "properties": {name: deal.value(name) for name in names},
        "createdAt": iso_ms(deal.created_ms),
        "updatedAt": iso_ms(deal.modified_ms),
        "archived": deal.archived,
    }
    if deal.archived:
        out["archivedAt"] = iso_ms(deal.archived_ms)
    wanted = [name for name in history if name in book.defs]
    if wanted:
        out["propertiesWithHistory"] = {name: list(deal.history(name)) for name in wanted}
    return out


def written_deal_json(deal: Deal, book: PropertyBook) -> dict[str, Any]:
    """What create/update answer with: every property that has a value."""
    return deal_json(deal, book, [n for n in deal.values if not n.startswith("__")])


def _names(book: PropertyBook, properties: Sequence[str] | None) -> list[str]:
    if properties is None:
        return list(DEFAULT_RETURNED)
    names = [name for name in properties if name in book.defs]
    return list(dict.fromkeys([*names, *ALWAYS_RETURNED]))


def query_list(request: Request, name: str) -> list[str] | None:
    """A comma-separated (or repeated) query parameter; None when absent."""
    raw = request.query_params.getlist(name)
    if not raw:
        return None
    return [part for item in raw for part in item.split(",") if part]


def query_flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "false").lower() == "true"


def query_int(request: Request, name: str, default: int, maximum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= maximum:
        raise bad_request(f"{name} must be an integer between 1 and {maximum}, got {raw!r}.")
    return int(raw)


def parse_json(raw: bytes) -> Any:
    """Decode a request body the way HubSpot reports bad JSON (400 VALIDATION_ERROR)."""
    try:
        return json.loads(raw or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        line, column = getattr(exc, "lineno", 1), getattr(exc, "colno", 1)
        message = f"Invalid input JSON on line {line}, column {column}: {getattr(exc, 'msg', exc)}"
        raise SandboxApiError(400, error_body(message, "VALIDATION_ERROR")) from None


def object_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    return body


def batch_inputs(body: Any) -> list[dict[str, Any]]:
    """The ``inputs`` of a batch body: a list of objects, at most 100 (more -> 400, assumption)."""
    inputs = object_body(body).get("inputs")
    if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
        raise bad_request("inputs must be a list of objects.")
    if len(inputs) > MAX_BATCH:
        raise bad_request(
            f"Batch input size {len(inputs)} exceeds the limit of {MAX_BATCH} inputs per request.",
            subCategory="BATCH_SIZE_LIMIT",
        )
    return inputs


def properties_of(item: dict[str, Any]) -> dict[str, Any]:
    props = item.get("properties", {})
    if not isinstance(props, dict):
        raise bad_request("properties must be an object of property name -> value.")
    return props


def string_list(raw: Any) -> list[str] | None:
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise bad_request("Expected a list of property names.")
    return [str(x) for x in raw]


def batch_response(
    results: Iterable[dict[str, Any]], errors: list[dict[str, Any]], started_ms: int, done_ms: int
) -> dict[str, Any]:
    """BatchResponseSimplePublicObject[WithErrors]."""
    body: dict[str, Any] = {"status": "COMPLETE", "results": list(results)}
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
    body["startedAt"] = iso_ms(started_ms)
    body["completedAt"] = iso_ms(done_ms)
    return body
