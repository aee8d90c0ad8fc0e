"""Canonical values: formatting noise reads equal and writes in one normal form."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from sync_worker.kernel.canonical import (
    FieldType,
    format_value,
    from_jsonable,
    make_codec,
    to_jsonable,
)
from sync_worker.kernel.errors import RejectedValueError

JAN_17_10H = datetime(2024, 1, 17, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("field_type", "raw", "canonical", "written"),
    [
        (FieldType.STRING, "Acme deal", "Acme deal", "Acme deal"),
        (FieldType.STRING, "", None, ""),
        (FieldType.NUMBER, "1500", Decimal(1500), "1500"),
        (FieldType.NUMBER, "1500.00", Decimal(1500), "1500"),
        (FieldType.NUMBER, "1.5e3", Decimal(1500), "1500"),
        (FieldType.NUMBER, " 0.000100 ", Decimal("0.0001"), "0.0001"),
        (FieldType.NUMBER, "-0.0", Decimal(0), "0"),
        (FieldType.DATE, "2024-01-17", date(2024, 1, 17), "2024-01-17"),
        (FieldType.DATE, "2024-01-17T00:00:00.000Z", date(2024, 1, 17), "2024-01-17"),
        (FieldType.DATE, "1705449600000", date(2024, 1, 17), "2024-01-17"),
        (FieldType.DATETIME, "2024-01-17T10:00:00Z", JAN_17_10H, "2024-01-17T10:00:00.000Z"),
        (FieldType.DATETIME, "2024-01-17T12:00:00+02:00", JAN_17_10H, "2024-01-17T10:00:00.000Z"),
        (FieldType.DATETIME, "1705485600000", JAN_17_10H, "2024-01-17T10:00:00.000Z"),
        (FieldType.DATETIME, "2024-01-17T10:00:00.000999Z", JAN_17_10H, "2024-01-17T10:00:00.000Z"),
        (FieldType.ENUM, " closedwon ", "closedwon", "closedwon"),
        (FieldType.MULTI_ENUM, ";hub_b; hub_a ;", frozenset({"hub_a", "hub_b"}), "hub_a;hub_b"),
        (FieldType.MULTI_ENUM, " ; ", None, ""),
        (
            FieldType.USER_SET,
            "Ann@X.com; bob@y.com",
            frozenset({"ann@x.com", "bob@y.com"}),
            "ann@x.com;bob@y.com",
        ),
        (FieldType.BOOL, "TRUE", True, "true"),
        (FieldType.BOOL, "false", False, "false"),
    ],
)
def test_read_then_write(field_type: FieldType, raw: str, canonical: object, written: str) -> None:
    codec = make_codec(field_type)
    value = codec.read(raw)
    assert value == canonical
    assert codec.write(value) == written
    assert codec.read(codec.write(value)) == value


@pytest.mark.parametrize(
    ("field_type", "raw", "message"),
    [
        (FieldType.NUMBER, "abc", "not a number: 'abc'"),
        (FieldType.NUMBER, "NaN", "not a finite number: 'NaN'"),
        (FieldType.NUMBER, "1e999", "number out of range: '1e999'"),
        (FieldType.DATE, "2024-13-01", "not a date: '2024-13-01'"),
        (FieldType.DATE, "1705449600001", "not a date (time is not UTC midnight): '1705449600001'"),
        (FieldType.DATETIME, "2024-01-17T10:00:00", "datetime without a time zone"),
        (FieldType.DATETIME, "yesterday", "not a datetime: 'yesterday'"),
        (FieldType.BOOL, "yes", "not a boolean (true/false): 'yes'"),
    ],
)
def test_malformed_values_are_rejected(field_type: FieldType, raw: str, message: str) -> None:
    with pytest.raises(RejectedValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make_codec(field_type).read(raw)


def test_value_map_translates_both_ways_and_rejects_unknown_values() -> None:
    codec = make_codec(FieldType.ENUM, {"Won": "closedwon", "Gewonnen": "closedwon"}, label="map")
    assert codec.read("Gewonnen") == "closedwon"
    assert codec.write("closedwon") == "Won"  # the first raw value listed
    with pytest.raises(RejectedValueError, match="unmappable: 'Lost' is not in the map"):
        codec.read("Lost")
    with pytest.raises(
        RejectedValueError, match="unmappable: 'closedlost' has no entry in the map"
    ):
        codec.write("closedlost")


def test_multi_enum_value_map_applies_per_element() -> None:
    codec = make_codec(FieldType.MULTI_ENUM, {"Sales Hub": "sales", "CMS": "cms"}, label="map")
    assert codec.read("CMS;Sales Hub") == frozenset({"cms", "sales"})
    assert codec.write(frozenset({"sales", "cms"})) == "CMS;Sales Hub"
    with pytest.raises(RejectedValueError, match="'Ops' not in the map"):
        codec.read("CMS;Ops")


@pytest.mark.parametrize(
    ("field_type", "value"),
    [
        (FieldType.STRING, "x"),
        (FieldType.NUMBER, Decimal("12.5")),
        (FieldType.DATE, date(2024, 1, 17)),
        (FieldType.DATETIME, JAN_17_10H),
        (FieldType.MULTI_ENUM, frozenset({"a", "b"})),
        (FieldType.USER_SET, frozenset({"ann@x.com"})),
        (FieldType.BOOL, False),
        (FieldType.ENUM, None),
    ],
)
def test_json_round_trip(field_type: FieldType, value: object) -> None:
    assert from_jsonable(field_type, to_jsonable(value)) == value


def test_format_value_for_people() -> None:
    assert format_value(None) is None
    assert format_value(Decimal("1.5E+3")) == "1500"
    assert format_value(JAN_17_10H) == "2024-01-17T10:00:00.000Z"
    assert format_value(date(2024, 1, 17)) == "2024-01-17"
    assert format_value(frozenset({"b", "a"})) == "a;b"
    assert format_value(value=True) == "true"
