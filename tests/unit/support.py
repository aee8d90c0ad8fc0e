"""Builders shared by the unit tests: records, small mappings, applying a plan's writes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sync_worker.kernel.model import DealRecord, Side
from sync_worker.mappings import builtin_mapping_path
from sync_worker.rules.mapping import SyncMapping, compile_mapping, load_mapping
from sync_worker.rules.plan import Directory, PairPlan

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
EARLIER = NOW - timedelta(hours=2)
LATER = NOW - timedelta(hours=1)
NO_USERS = Directory(partner=frozenset(), rep=frozenset())
CONTEXT = {"partner_account": "acme"}


def default_mapping() -> SyncMapping:
    """The shipped default mapping, for the pair ``acme``."""
    return load_mapping(builtin_mapping_path("hubspot_shared_deals"), context=CONTEXT)


def text_team_mapping() -> SyncMapping:
    """The shipped mapping whose deal team is a text property (an owned set of emails)."""
    return load_mapping(builtin_mapping_path("hubspot_shared_deals_text_team"), context=CONTEXT)


def deal(
    deal_id: str,
    properties: Mapping[str, str | None] | None = None,
    *,
    modified_at: datetime = EARLIER,
    stamps: Mapping[str, datetime] | None = None,
    archived: bool = False,
) -> DealRecord:
    return DealRecord(
        id=deal_id,
        properties=dict(properties or {}),
        modified_at=modified_at,
        property_timestamps=dict(stamps or {}),
        archived=archived,
    )


def mapping_data(fields: Mapping[str, Mapping[str, Any]], **sections: Any) -> dict[str, Any]:
    """A minimal mapping document whose fields use their own name as the property on both
    sides unless they say otherwise."""
    data: dict[str, Any] = {
        "mapping": {"name": "test"},
        "links": {"partner_property": "rep_deal_id", "rep_property": "partner_deal_id"},
        "fields": {
            name: {"partner": name, "rep": name, "direction": "both", **spec}
            for name, spec in fields.items()
        },
    }
    data.update(sections)
    return data


def one_field(name: str = "f", **spec: Any) -> SyncMapping:
    """A mapping of the single field ``name`` (type string, direction both by default)."""
    return compile_mapping(mapping_data({name: {"type": "string", **spec}}))


def apply(record: DealRecord, plan: PairPlan, side: Side) -> DealRecord:
    """``record`` after ``plan``'s writes to ``side`` landed (``""`` clears)."""
    writes = plan.updates.get(side, {})
    properties = {**record.properties, **{k: (v or None) for k, v in writes.items()}}
    return DealRecord(
        id=record.id,
        properties=properties,
        modified_at=record.modified_at,
        property_timestamps=record.property_timestamps,
        archived=record.archived,
    )
