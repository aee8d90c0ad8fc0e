"""What a sandbox portal is made of: its settings, pipelines, owners and property definitions.

These are plain frozen values; :mod:`hubspot_sandbox.store` turns a :class:`PortalSpec` into a
live :class:`~hubspot_sandbox.store.Portal`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from hubspot_sandbox.clock import Clock

# Requests per rolling 10 s and per day, from HubSpot's usage guidelines (reference §4).
# "api_limit_increase" assumes an Enterprise account with one increase pack (+1,000,000/day).
TIERS: dict[str, tuple[int, int | None]] = {
    "free": (100, 250_000),
    "starter": (100, 250_000),
    "professional": (190, 625_000),
    "enterprise": (190, 1_000_000),
    "api_limit_increase": (250, 2_000_000),
    # A public (OAuth) app: 110 per 10 s per installing account, no daily limit and no daily
    # headers (reference/hubspot-api.md).
    "oauth": (110, None),
}
UNLIMITED = "unlimited"
"""Tier name that switches rate limiting (and the rate-limit headers) off, for fast tests."""


@dataclass(frozen=True, slots=True)
class Option:
    """One allowed value of an enumeration property."""

    label: str
    value: str


@dataclass(frozen=True, slots=True)
class PropertyDef:
    """A deal property definition, as ``GET /crm/v3/properties/deals`` describes it.

    ``type`` is one of string, number, datetime, date, enumeration. ``options`` is empty for
    enumerations whose values come from elsewhere (pipeline, dealstage, hubspot_owner_id).
    """

    name: str
    label: str
    type: str = "string"
    field_type: str = "text"
    options: tuple[Option, ...] = ()
    read_only: bool = False
    calculated: bool = False
    unique: bool = False
    group: str = "dealinformation"
    hubspot_defined: bool = False


@dataclass(frozen=True, slots=True)
class Stage:
    """A deal stage: ``id`` is the internal value stored in ``dealstage``."""

    id: str
    label: str
    probability: float = 0.5
    closed: bool = False


@dataclass(frozen=True, slots=True)
class Pipeline:
    """A deal pipeline with its ordered stages (the first stage is the default on create)."""

    id: str
    label: str
    stages: tuple[Stage, ...]


@dataclass(frozen=True, slots=True)
class Owner:
    """A CRM user that can own deals; ``id`` is what ``hubspot_owner_id`` and the deal
    collaborators (``hs_all_collaborator_owner_ids``) hold. ``archived``: a deactivated user."""

    id: str
    email: str
    first_name: str
    last_name: str
    user_id: int
    archived: bool = False


DEFAULT_STAGES: tuple[Stage, ...] = (
    Stage("appointmentscheduled", "Appointment Scheduled", 0.2),
    Stage("qualifiedtobuy", "Qualified To Buy", 0.4),
    Stage("presentationscheduled", "Presentation Scheduled", 0.6),
    Stage("decisionmakerboughtin", "Decision Maker Bought-In", 0.8),
    Stage("contractsent", "Contract Sent", 0.9),
    Stage("closedwon", "Closed Won", 1.0, closed=True),
    Stage("closedlost", "Closed Lost", 0.0, closed=True),
)
DEFAULT_PIPELINE = Pipeline("default", "Sales Pipeline", DEFAULT_STAGES)


@dataclass(frozen=True, slots=True)
class PortalSpec:
    """Settings of one sandbox portal (one HubSpot account).

    ``tier`` picks the rate limits (see :data:`TIERS`; ``"unlimited"`` disables them);
    ``daily_limit`` overrides the tier's daily count. ``properties`` are extra custom deal
    properties on top of the standard ones. ``id_base`` is the first deal id minus one (None:
    the sandbox picks a distinct range per portal). ``clock`` defaults to the sandbox's clock.
    ``timezone`` is the account's time zone (IANA name): the daily API count resets at its
    midnight, as HubSpot's does. ``latency_seconds``: each API call is answered after a uniform
    draw in this range (real HubSpot: ~0.1-0.3 s); ``(0, 0)``, the default, adds nothing.
    """

    name: str
    token: str
    tier: str = "free"
    daily_limit: int | None = None
    ten_second_limit: int | None = None
    properties: Sequence[PropertyDef] = ()
    pipelines: Sequence[Pipeline] = (DEFAULT_PIPELINE,)
    owners: Sequence[Owner] = ()
    search_rate_per_second: int = 5
    index_lag_seconds: float = 0.0
    id_base: int | None = None
    clock: Clock | None = field(default=None, compare=False)
    timezone: str = "UTC"
    latency_seconds: tuple[float, float] = (0.0, 0.0)

    def limits(self) -> tuple[int, int | None] | None:
        """(requests per 10 s, requests per day or None for no daily limit), or None when rate
        limiting is off."""
        if self.tier == UNLIMITED:
            return None
        if self.tier not in TIERS:
            raise ValueError(f"unknown tier {self.tier!r}; choose one of {[*TIERS, UNLIMITED]}")
        ten, daily = TIERS[self.tier]
        return (self.ten_second_limit or ten, self.daily_limit or daily)
