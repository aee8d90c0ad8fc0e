"""Deal collaborators in the demo portals: owner ids <-> the demo users' emails."""

from __future__ import annotations

from hubspot_sandbox.seed import PARTNER_OWNERS, REP_OWNERS

COLLABORATORS = "hs_all_collaborator_owner_ids"
OWNER_IDS = {o.email: o.id for o in (*PARTNER_OWNERS, *REP_OWNERS)}


def collaborators(*emails: str) -> str:
    """The collaborator value (owner ids) naming ``emails`` in the demo portals."""
    return ";".join(sorted(OWNER_IDS[e] for e in emails))


def collaborator_emails(raw: str | None) -> set[str]:
    """The demo users a collaborator value (owner ids) names."""
    by_id = {owner_id: email for email, owner_id in OWNER_IDS.items()}
    return {by_id.get(i, f"unknown:{i}") for i in (raw or "").split(";") if i}
