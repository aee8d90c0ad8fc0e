"""Batch write outcomes: match a 200/207 body back to the inputs that caused it. Pure.

Each input carries a unique ``objectWriteTraceId``. A result is matched by the trace id it
echoes, else by record id (updates) or by the unique property's value (upserts). An error is
matched by ``context.objectWriteTraceId``, else by ``context.ids``; an error that names no input
is charged to the inputs that got no result. ``OBJECT_NOT_FOUND`` means the record is gone.
Inputs with neither a result nor an error are reported as unmatched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sync_worker.connectors.base import RecordFailure
from sync_worker.connectors.hubspot.records import deal_from_json
from sync_worker.connectors.hubspot.status import invalid_properties
from sync_worker.kernel.model import DealRecord

__all__ = ["BatchOutcome", "WriteInput", "match_outcome"]

GONE_CATEGORIES = frozenset({"OBJECT_NOT_FOUND"})


@dataclass(frozen=True, slots=True)
class WriteInput:
    """One batch input. ``key``: what the result is keyed by (record id or upsert key);
    ``body``: the JSON sent, including ``objectWriteTraceId`` = ``trace_id``."""

    key: str
    trace_id: str
    body: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """``unmatched``: inputs HubSpot returned neither a result nor an error for (e.g. an upsert
    result that does not carry the unique property); the caller reads them back."""

    written: dict[str, DealRecord]
    failed: list[RecordFailure]
    unmatched: list[str]


def _mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _strings(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _result_key(
    raw: Mapping[str, object], by_trace: Mapping[str, WriteInput], id_property: str | None
) -> str | None:
    trace = raw.get("objectWriteTraceId")
    if isinstance(trace, str) and trace in by_trace:
        return by_trace[trace].key
    if id_property is None:
        return str(raw.get("id"))
    value = _mapping(raw.get("properties")).get(id_property)
    return value if isinstance(value, str) else None


def error_reason(error: Mapping[str, object]) -> str:
    category = error.get("category") or error.get("subCategory") or "ERROR"
    return f"{category}: {error.get('message') or 'no message'}"


def _error_targets(
    error: Mapping[str, object], inputs: Sequence[WriteInput], by_trace: Mapping[str, WriteInput]
) -> list[str]:
    context = _mapping(error.get("context"))
    traced = [by_trace[t].key for t in _strings(context.get("objectWriteTraceId")) if t in by_trace]
    if traced:
        return traced
    ids = set(_strings(context.get("ids")) + _strings(context.get("id")))
    return [i.key for i in inputs if i.key in ids]


def match_outcome(
    body: Mapping[str, object],
    inputs: Sequence[WriteInput],
    *,
    id_property: str | None = None,
    requested: Sequence[str] = (),
) -> BatchOutcome:
    """Sort a batch response into written records, per-input failures and unmatched inputs;
    every input ends up in exactly one of the three."""
    by_trace = {i.trace_id: i for i in inputs}
    keys = {i.key for i in inputs}
    written: dict[str, DealRecord] = {}
    for raw in _list(body.get("results")):
        key = _result_key(_mapping(raw), by_trace, id_property)
        if key in keys:
            written[key] = deal_from_json(_mapping(raw), requested)
    failed: dict[str, RecordFailure] = {}
    unattributed: list[Mapping[str, object]] = []
    for raw_error in _list(body.get("errors")):
        error = _mapping(raw_error)
        targets = [k for k in _error_targets(error, inputs, by_trace) if k not in written]
        if not targets:
            unattributed.append(error)
        gone = error.get("category") in GONE_CATEGORIES
        # Named properties are trusted only for an error about one input.
        named = invalid_properties(error) if len(targets) == 1 else ()
        for key in targets:
            failed.setdefault(
                key, RecordFailure(key, error_reason(error), gone=gone, properties=named)
            )
    rest = sorted(keys - written.keys() - failed.keys())
    if unattributed:
        reason = "; ".join(error_reason(e) for e in unattributed)
        failed |= {key: RecordFailure(key, reason) for key in rest}
        rest = []
    return BatchOutcome(written, list(failed.values()), rest)


def not_found_ids(body: Mapping[str, object]) -> set[str]:
    """Ids a (207) batch response reports as not found (``OBJECT_NOT_FOUND`` errors)."""
    ids: set[str] = set()
    for error in _list(body.get("errors")):
        error_map = _mapping(error)
        if error_map.get("category") in GONE_CATEGORIES:
            context = _mapping(error_map.get("context"))
            ids.update(_strings(context.get("ids")))
            ids.update(_strings(context.get("id")))
    return ids
