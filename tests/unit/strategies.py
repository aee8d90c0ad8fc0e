"""Hypothesis strategies: pairs of real-shaped records (noise, malformed and unmappable values
included), stored bases and timestamps, over one mapping that uses every type, rule and
direction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from sync_worker.kernel.canonical import FieldType
from sync_worker.kernel.errors import RejectedValueError
from sync_worker.kernel.model import DealRecord, Side
from sync_worker.rules.mapping import SyncMapping, compile_mapping
from sync_worker.rules.plan import BaseSnapshot, Directory
from tests.unit.support import mapping_data

PARTNER_USERS = frozenset({"pia@agency.test", "pete@agency.test"})
REP_USERS = frozenset({"rita@hubspot.test", "rob@hubspot.test"})
BOTH_USERS = frozenset({"dual@both.test"})
DIRECTORY = Directory(partner=PARTNER_USERS | BOTH_USERS, rep=REP_USERS | BOTH_USERS)
EMAILS = sorted(PARTNER_USERS | REP_USERS | BOTH_USERS | {"guest@else.test"})

FIELDS: dict[str, dict[str, Any]] = {
    "name": {"type": "string", "rule": "newest_wins"},
    "amount": {"type": "number", "rule": "partner_wins"},
    "day": {"type": "date", "rule": "rep_wins"},
    "close": {"type": "datetime", "direction": "partner_to_rep", "rule": "partner_wins"},
    "stage": {
        "type": "enum",
        "direction": "rep_to_partner",
        "rule": "newest_wins",
        "value_map": {"partner": {"A": "a", "AA": "a", "B": "b"}},
    },
    "products": {
        "type": "multi_enum",
        "rule": "manual",
        "value_map": {"rep": {"X": "x", "Y": "y"}},
    },
    "title": {"type": "string", "rule": "set_on_create"},
    "pipeline": {"type": "enum", "direction": "rep_to_partner", "rule": "set_on_create"},
    "flag": {"type": "bool", "rule": "newest_wins"},
    "team": {"type": "user_set", "rule": "owned_set"},
    "internal": {"type": "enum", "direction": "none"},
}
MAPPING: SyncMapping = compile_mapping(mapping_data(FIELDS))

_EMAIL_SPELLINGS = [spelling for e in EMAILS for spelling in (e, e.upper(), f" {e} ")]
_USERS_RAW = st.lists(st.sampled_from(_EMAIL_SPELLINGS), max_size=4).map(";".join)

RAW: dict[str, dict[Side, st.SearchStrategy[str | None]]] = {
    "name": {side: st.sampled_from([None, "", "a", "b", "c"]) for side in Side},
    "amount": {
        side: st.sampled_from([None, "1", "1.0", "2", "2.50", "2.5", "abc"]) for side in Side
    },
    "day": {
        side: st.sampled_from([None, "2024-01-17", "1705449600000", "2024-01-18", "bad"])
        for side in Side
    },
    "close": {
        side: st.sampled_from(
            [
                None,
                "2024-01-17T10:00:00Z",
                "2024-01-17T12:00:00+02:00",
                "1705485600000",
                "2024-01-18T00:00:00.000Z",
            ]
        )
        for side in Side
    },
    "stage": {
        Side.PARTNER: st.sampled_from([None, "A", "AA", " B", "C"]),
        Side.REP: st.sampled_from([None, "a", "b", "c"]),
    },
    "products": {
        Side.PARTNER: st.sampled_from([None, "x", "y;x", " x ; y ", "z", ";"]),
        Side.REP: st.sampled_from([None, "X", "X;Y", "Y", "Z"]),
    },
    "title": {side: st.sampled_from([None, "t1", "t2"]) for side in Side},
    "pipeline": {side: st.sampled_from([None, "p1", "p2"]) for side in Side},
    "flag": {side: st.sampled_from([None, "true", "TRUE", "false"]) for side in Side},
    "team": {side: st.one_of(st.none(), _USERS_RAW) for side in Side},
    "internal": {side: st.sampled_from([None, "i1", "i2"]) for side in Side},
}

T0 = datetime(2026, 1, 1, tzinfo=UTC)
MOMENTS = st.sampled_from([T0 + timedelta(minutes=m) for m in range(4)])


@st.composite
def records(draw: st.DrawFn, side: Side) -> DealRecord:
    properties = {spec.property_on(side): draw(RAW[spec.name][side]) for spec in MAPPING.fields}
    stamps = {
        spec.property_on(side): draw(MOMENTS) for spec in MAPPING.fields if draw(st.booleans())
    }
    deal_id = "p1" if side is Side.PARTNER else "r1"
    return DealRecord(deal_id, properties, modified_at=draw(MOMENTS), property_timestamps=stamps)


@st.composite
def bases(draw: st.DrawFn) -> BaseSnapshot | None:
    """None (never synced), or some fields' agreed values read from either side's vocabulary."""
    if draw(st.booleans()):
        return None
    values: dict[str, object] = {}
    for spec in MAPPING.fields:
        if not draw(st.booleans()):
            continue
        side = draw(st.sampled_from(list(Side)))
        try:
            values[spec.name] = spec.codec(side).read(draw(RAW[spec.name][side]))
        except RejectedValueError:
            continue
    return BaseSnapshot(values, agreed_at=T0)


def _epoch_ms(raw: str) -> str:
    return str(int(datetime.fromisoformat(raw).timestamp() * 1000))


def _reordered(raw: str) -> str:
    return " ; ".join(reversed(raw.split(";"))) + ";"


_ECHO: dict[FieldType, Callable[[str], str]] = {
    FieldType.NUMBER: lambda raw: raw + ("0" if "." in raw else ".00"),
    FieldType.DATETIME: _epoch_ms,
    FieldType.DATE: lambda raw: raw + "T00:00:00.000Z",
    FieldType.MULTI_ENUM: _reordered,
    FieldType.USER_SET: lambda raw: _reordered(raw).upper(),
    FieldType.BOOL: str.upper,
}


def echo_noise(field_type: FieldType, raw: str) -> str:
    """How a CRM might hand back a value the worker wrote: same meaning, other formatting."""
    if not raw or field_type not in _ECHO:
        return raw
    return _ECHO[field_type](raw)
