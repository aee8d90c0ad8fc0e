"""HubSpot's request signature v3 (reference/hubspot-api.md §8), checked exactly as documented.

The source string is ``method + URI + body + timestamp``: the method HubSpot used, the full URI
it called (scheme, host, path and query, as its app settings name them; behind a proxy the
daemon sees another one, hence ``worker.webhook_public_url``), the raw body bytes and the
``X-HubSpot-Request-Timestamp`` header (epoch milliseconds). The signature is the base64 of its
HMAC-SHA256 keyed with the app's client secret, compared in constant time. A timestamp more than
five minutes old is refused whatever the signature; so is one more than five minutes ahead (the
documentation names only the first; a future timestamp would let a replay live longer).

HubSpot's validation guide has the receiver decode a fixed set of percent-escapes in the URI
before hashing (``%3A`` -> ``:`` and so on); :func:`signed_uri` does that, so a target URL with
a query signs the same on both ends.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import SecretStr

from sync_worker.kernel.clock import from_epoch_ms

SIGNATURE_HEADER = "X-HubSpot-Signature-v3"
TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp"
MAX_SKEW = timedelta(minutes=5)
_DECODED = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}
_ESCAPE = re.compile("|".join(_DECODED), re.IGNORECASE)


class Refusal(StrEnum):
    """Why a request's signature does not pass (each is a 401)."""

    MISSING = "signature or timestamp header missing"
    BAD_TIMESTAMP = "timestamp is not epoch milliseconds"
    STALE = "timestamp older than 5 minutes"
    FUTURE = "timestamp more than 5 minutes ahead"
    MISMATCH = "signature does not match"
    REPLAYED = "signature already used"


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What a signature covers, as received."""

    method: str
    uri: str
    body: bytes
    signature: str | None
    timestamp: str | None


def signed_uri(uri: str) -> str:
    """``uri`` with the percent-escapes HubSpot's guide decodes before hashing, decoded."""
    return _ESCAPE.sub(lambda match: _DECODED[match.group(0).upper()], uri)


def v3_signature(secret: SecretStr, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """base64(HMAC-SHA256(secret, method + uri + body + timestamp))."""
    source = method.encode() + signed_uri(uri).encode() + body + timestamp.encode()
    key = secret.get_secret_value().encode()
    return base64.b64encode(hmac.new(key, source, hashlib.sha256).digest()).decode("ascii")


def check(request: SignedRequest, secret: SecretStr, now: datetime) -> Refusal | None:
    """None when ``request`` carries a fresh, valid signature; else why not."""
    if not request.signature or not request.timestamp:
        return Refusal.MISSING
    stamp = request.timestamp.strip()
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 15):
        return Refusal.BAD_TIMESTAMP
    sent = from_epoch_ms(int(stamp))
    if now - sent > MAX_SKEW:
        return Refusal.STALE
    if sent - now > MAX_SKEW:
        return Refusal.FUTURE
    expected = v3_signature(secret, request.method, request.uri, request.body, stamp)
    if not hmac.compare_digest(expected.encode(), request.signature.strip().encode()):
        return Refusal.MISMATCH
    return None
