"""Reading HubSpot's event arrays, routing deal ids to inboxes, and the v3 signature itself."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import timedelta

import pytest
from pydantic import SecretStr

from sync_worker.kernel.errors import WebhookRefused
from sync_worker.kernel.model import Side
from sync_worker.runtime.config import PairSettings
from sync_worker.service.webhooks.events import DealEventKind, parse_body
from sync_worker.service.webhooks.routing import EndpointRoles, endpoint_roles, route
from sync_worker.service.webhooks.signature import (
    Refusal,
    SignedRequest,
    check,
    signed_uri,
    v3_signature,
)
from tests.webhooks.conftest import NOW, change, events


def test_deal_events_are_read_and_other_events_counted_as_ignored() -> None:
    body = events(
        change(1, 101, "deal.creation"),
        change(2, 102),
        change(3, 103, "deal.deletion"),
        change(4, 104, "deal.restore"),
        change(5, 501, "contact.propertyChange"),
        change(6, 106, "deal.associationChange"),
        {**change(7, 107, "object.propertyChange"), "objectTypeId": "0-3"},
        {**change(8, 108, "object.propertyChange"), "objectTypeId": "0-1"},
        change(2, 102),  # the same event twice in one body
    )

    parsed = parse_body(body)

    assert [(e.event_id, e.kind, e.deal_ids) for e in parsed.events] == [
        ("1", DealEventKind.CREATION, ("101",)),
        ("2", DealEventKind.PROPERTY_CHANGE, ("102",)),
        ("3", DealEventKind.DELETION, ("103",)),
        ("4", DealEventKind.RESTORE, ("104",)),
        ("7", DealEventKind.PROPERTY_CHANGE, ("107",)),
    ]
    assert parsed.ignored == 3
    assert parsed.events[1].property_name == "amount"
    assert parsed.events[1].portal_id == 62515


def test_a_merge_names_every_deal_involved() -> None:
    merge = {
        **change(9, 201, "deal.merge"),
        "primaryObjectId": 201,
        "mergedObjectIds": [202, 203],
        "newObjectId": 204,
        "numberOfPropertiesMoved": 3,
    }

    (event,) = parse_body(events(merge)).events

    assert event.kind is DealEventKind.MERGE
    assert event.deal_ids == ("201", "202", "203", "204")


def test_odd_elements_are_counted_not_fatal() -> None:
    body = events(
        change(1, 101),
        {"subscriptionType": "deal.creation", "objectId": 5},  # no event id
        {**change(2, 0), "objectId": None},  # no deal named
        "not an object",  # type: ignore[arg-type]
    )

    parsed = parse_body(body)

    assert [e.event_id for e in parsed.events] == ["1"]
    assert parsed.malformed == 3


@pytest.mark.parametrize("body", [b"{}", b"", b"[1", b'"text"'])
def test_a_body_that_is_no_array_is_refused(body: bytes) -> None:
    with pytest.raises(WebhookRefused) as refused:
        parse_body(body)
    assert refused.value.status == 400


def test_roles_come_from_the_enabled_pairs() -> None:
    pairs = {
        "b-pair": PairSettings(partner="p1", rep="rep", partner_account="b"),
        "a-pair": PairSettings(partner="p1", rep="rep", partner_account="a"),
        "c-pair": PairSettings(partner="p2", rep="p1", partner_account="c"),
        "off": PairSettings(partner="p3", rep="rep", partner_account="d", enabled=False),
    }

    roles = endpoint_roles(pairs)

    assert roles == {
        "p1": EndpointRoles(("a-pair", "b-pair"), rep=True),
        "p2": EndpointRoles(("c-pair",), rep=False),
        "rep": EndpointRoles((), rep=True),
    }


def test_routing_sends_partner_deals_to_each_pair_and_rep_deals_to_discovery() -> None:
    (merge,) = parse_body(
        events({**change(1, 7, "deal.merge"), "primaryObjectId": 7, "mergedObjectIds": [8]})
    ).events
    (edit,) = parse_body(events(change(2, 7))).events
    roles = EndpointRoles(("a-pair", "b-pair"), rep=True)

    entries = route("p1", roles, [merge, edit], NOW)

    assert [(e.key, e.side, e.record_id) for e in entries] == [
        ("a-pair", Side.PARTNER, "7"),
        ("b-pair", Side.PARTNER, "7"),
        ("endpoint:p1", Side.REP, "7"),
        ("a-pair", Side.PARTNER, "8"),
        ("b-pair", Side.PARTNER, "8"),
        ("endpoint:p1", Side.REP, "8"),
    ]
    assert {(e.source, e.queued_at) for e in entries} == {("webhook", NOW)}


def test_the_signature_is_hubspots_v3() -> None:
    """Computed as HubSpot's guide and SDK spell it, independently of the module."""
    secret, uri, stamp = "client-secret", "https://example.com/webhooks/hubspot/p1", "1700000000000"
    body = b'[{"eventId":1}]'
    source = ("POST" + uri + body.decode() + stamp).encode("utf-8")
    expected = base64.b64encode(hmac.new(b"client-secret", source, hashlib.sha256).digest())

    assert v3_signature(SecretStr(secret), "POST", uri, body, stamp) == expected.decode()


def test_the_uri_is_hashed_with_hubspots_escapes_decoded() -> None:
    assert signed_uri("https://x.io/a%3Ab%2fc?d=%40%2C%3B%20") == "https://x.io/a:b/c?d=@,;%20"


def test_check_names_the_refusal() -> None:
    secret = SecretStr("s")
    stamp = str(int(NOW.timestamp() * 1000))
    good = v3_signature(secret, "POST", "http://h/p", b"[]", stamp)

    def verdict(signature: str | None, timestamp: str | None, at: timedelta) -> Refusal | None:
        request = SignedRequest("POST", "http://h/p", b"[]", signature, timestamp)
        return check(request, secret, NOW + at)

    assert verdict(good, stamp, timedelta()) is None
    assert verdict(None, stamp, timedelta()) is Refusal.MISSING
    assert verdict(good, "-1", timedelta()) is Refusal.BAD_TIMESTAMP
    assert verdict(good, "9" * 20, timedelta()) is Refusal.BAD_TIMESTAMP
    assert verdict(good, stamp, timedelta(minutes=5, milliseconds=1)) is Refusal.STALE
    assert verdict(good, stamp, -timedelta(minutes=5, milliseconds=1)) is Refusal.FUTURE
    assert verdict(good[:-2] + "==", stamp, timedelta()) is Refusal.MISMATCH
