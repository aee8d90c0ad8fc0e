"""Listing a portal's owners (its users): ``GET /crm/v3/owners``, paged."""

from __future__ import annotations

from collections.abc import Mapping

from sync_worker.connectors.base import User
from sync_worker.connectors.hubspot.client import HubSpotClient
from sync_worker.connectors.hubspot.records import results_of, user_from_json

__all__ = ["OWNERS_PAGE", "list_owners"]

OWNERS_PAGE = 100


def list_owners(client: HubSpotClient, *, archived: bool) -> tuple[User, ...]:
    """Every owner with an email: the active ones, or with ``archived`` the archived
    (deactivated) ones. An owner of the other kind in the answer is dropped, so a portal that
    reads ``archived=true`` as "include archived" is harmless too."""
    users: list[User] = []
    after: str | None = None
    seen: set[str] = set()
    while True:
        params = {"limit": str(OWNERS_PAGE), "archived": str(archived).lower()}
        if after is not None:
            params["after"] = after
        body = client.send("GET", "/crm/v3/owners", params=params).body
        users.extend(
            u for raw in results_of(body) if (u := user_from_json(raw)) and u.active != archived
        )
        after = _next_after(body)
        if after is None or after in seen:
            return tuple(users)
        seen.add(after)


def _next_after(body: Mapping[str, object]) -> str | None:
    paging = body.get("paging")
    nxt = paging.get("next") if isinstance(paging, dict) else None
    after = nxt.get("after") if isinstance(nxt, dict) else None
    return str(after) if after is not None else None
