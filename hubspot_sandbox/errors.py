"""HubSpot-shaped error bodies (reference §3) and the one exception that carries them.

Every failure inside the sandbox is a :class:`SandboxApiError` holding the HTTP status and the
JSON body HubSpot would send; the Starlette layer turns it into a response unchanged, and the
Python API raises it as is (so a test can assert on ``err.status`` and ``err.body``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

JsonDict = dict[str, Any]


class SandboxApiError(Exception):
    """An API call failed the way HubSpot would fail it."""

    def __init__(self, status: int, body: JsonDict) -> None:
        super().__init__(f"{status} {body.get('category', '')}: {body.get('message', '')}")
        self.status = status
        self.body = body

    @property
    def category(self) -> str:
        return str(self.body.get("category", ""))


def correlation_id() -> str:
    return str(uuid.uuid4())


def error_body(message: str, category: str, **extra: Any) -> JsonDict:
    """The common error envelope: status, message, correlationId, category (+ extra fields)."""
    body: JsonDict = {"status": "error", "message": message, "correlationId": correlation_id()}
    body["category"] = category
    body.update(extra)
    return body


def bad_request(message: str, **extra: Any) -> SandboxApiError:
    """A 400 VALIDATION_ERROR that is not about property values (paging, filters, inputs)."""
    return SandboxApiError(400, error_body(message, "VALIDATION_ERROR", **extra))


@dataclass(frozen=True, slots=True)
class PropertyProblem:
    """One invalid property value: ``error`` is HubSpot's code (e.g. ``INVALID_OPTION``)."""

    name: str
    error: str
    message: str


def property_errors_body(problems: Sequence[PropertyProblem]) -> JsonDict:
    """HubSpot's 'Property values were not valid' body (message embeds a JSON list)."""
    listed = [
        {
            "isValid": False,
            "message": p.message,
            "error": p.error,
            "name": p.name,
            "localizedErrorMessage": p.message,
        }
        for p in problems
    ]
    details = [
        {"message": p.message, "code": p.error, "context": {"propertyName": [p.name]}}
        for p in problems
    ]
    message = "Property values were not valid: " + json.dumps(listed, separators=(",", ":"))
    return error_body(message, "VALIDATION_ERROR", errors=details)


def invalid_properties(problems: Sequence[PropertyProblem]) -> SandboxApiError:
    return SandboxApiError(400, property_errors_body(problems))


def object_not_found(object_id: str) -> SandboxApiError:
    """404 for a single-object call (note HubSpot's double space, reference §3)."""
    body = error_body(
        "Object not found.  objectId are usually numeric.",
        "OBJECT_NOT_FOUND",
        context={"id": [object_id]},
    )
    return SandboxApiError(404, body)


def batch_not_found(ids: Sequence[str]) -> JsonDict:
    """The per-batch error listing every id that does not exist (reference §1, obs S28)."""
    return {
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "message": "Could not get some DEAL objects, they may be deleted or not exist. "
        "Check that ids are valid.",
        "context": {"ids": list(ids)},
        "errors": [],
    }


def unique_conflict(prop: str, value: str, existing_id: str) -> SandboxApiError:
    """409 for a value already held by another deal in a hasUniqueValue property.

    HubSpot documents the 409 body only for contacts ("Contact already exists. Existing ID:");
    the deal wording here is an assumption that keeps the same ``Existing ID:`` suffix.
    """
    message = (
        f'A deal with {prop}="{value}" already exists ({prop} has unique values). '
        f"Existing ID: {existing_id}"
    )
    return SandboxApiError(409, error_body(message, "CONFLICT"))


def unauthorized() -> SandboxApiError:
    message = (
        "Authentication credentials not found. This API supports OAuth 2.0 authentication "
        "and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
    )
    return SandboxApiError(401, error_body(message, "INVALID_AUTHENTICATION"))
