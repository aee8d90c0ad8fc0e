"""The demo: a "partner" portal (an agency) and a "rep" portal (HubSpot's CRM) with shared deals.

``seed_demo`` fills them with realistic, reproducible states (``random.Random(seed)``):
linked pairs (mostly consistent, some diverging), partner deals registered but not linked yet,
rep deals referred to the partner without a partner counterpart, and a few unshared deals.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hubspot_sandbox.portal import Portal, Sandbox
from hubspot_sandbox.properties import COLLABORATORS
from hubspot_sandbox.spec import (
    DEFAULT_PIPELINE,
    Option,
    Owner,
    Pipeline,
    PortalSpec,
    PropertyDef,
    Stage,
)

PARTNER_ACCOUNT = "agency-001"
REFERRED_PIPELINE = Pipeline(
    "referred_deals",
    "Referred deals pipeline",
    (
        Stage("referred_new", "New referral", 0.1),
        Stage("referred_qualified", "Qualified", 0.5),
        Stage("referred_won", "Won", 1.0, closed=True),
        Stage("referred_lost", "Lost", 0.0, closed=True),
    ),
)
PARTNER_OWNERS = (
    Owner("71000001", "ada.lovelace@agency.example", "Ada", "Lovelace", 8100001),
    Owner("71000002", "grace.hopper@agency.example", "Grace", "Hopper", 8100002),
    Owner("71000003", "alan.turing@agency.example", "Alan", "Turing", 8100003),
    Owner("71000004", "edsger.dijkstra@agency.example", "Edsger", "Dijkstra", 8100004),
)
REP_OWNERS = (
    Owner("92000001", "rita.rep@hubspot.example", "Rita", "Rep", 9100001),
    Owner("92000002", "sam.sales@hubspot.example", "Sam", "Sales", 9100002),
    Owner("92000003", "paula.partnermgr@hubspot.example", "Paula", "Partnermgr", 9100003),
)
COMPANIES = (
    "Acme Corp", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne Enterprises",
    "Soylent", "Tyrell", "Cyberdyne", "Wonka Industries", "Vandelay Industries", "Pied Piper",
)  # fmt: skip


PRODUCTS = (
    "Sales Hub Professional",
    "Sales Hub Enterprise",
    "Marketing Hub Professional",
    "Marketing Hub Enterprise",
    "Service Hub Professional",
    "CRM Suite Starter",
    "Smart CRM Professional",
    "Data Hub Starter",
    "Commerce Hub Enterprise",
    "HubSpot CMS",
)
"""Some of HubSpot's product names, the options of the demo's product-interest property
(reference/hubspot-api.md §9; ``CMS Starter``'s value is ``HubSpot CMS``)."""


def shared_properties() -> tuple[PropertyDef, ...]:
    """Custom properties both portals have (the default mapping's names)."""
    return (
        PropertyDef("shared_deal_team", "Shared deal team", group="shared_deals"),
        PropertyDef(
            "product_interest",
            "Product interest",
            "enumeration",
            "checkbox",
            options=tuple(Option(p, p) for p in PRODUCTS),
            group="shared_deals",
        ),
    )


def demo_portals(tier: str = "free") -> list[PortalSpec]:
    """The "partner" and "rep" portals (tokens ``demo-partner-token`` / ``demo-rep-token``)."""
    partner = PortalSpec(
        name="partner",
        token="demo-partner-token",  # noqa: S106 - public demo token
        tier=tier,
        properties=(
            PropertyDef("rep_deal_id", "Rep deal ID", unique=True, group="shared_deals"),
            *shared_properties(),
        ),
        pipelines=(DEFAULT_PIPELINE, REFERRED_PIPELINE),
        owners=PARTNER_OWNERS,
    )
    rep = PortalSpec(
        name="rep",
        token="demo-rep-token",  # noqa: S106 - public demo token
        tier=tier,
        properties=(
            PropertyDef("partner_deal_id", "Partner deal ID", unique=True, group="shared_deals"),
            PropertyDef("shared_partner_account", "Shared partner account", group="shared_deals"),
            *shared_properties(),
        ),
        pipelines=(DEFAULT_PIPELINE,),
        owners=REP_OWNERS,
    )
    return [partner, rep]


def _collaborators(values: dict[str, str], owners: tuple[Owner, ...]) -> str:
    """The deal collaborators of one account: its users on the deal's team (a shared deal's
    team text lists both accounts' members, as the worker shows it)."""
    team = set(values.get("shared_deal_team", "").split(";"))
    return ";".join(o.id for o in owners if o.email in team)


@dataclass
class _Seeder:
    rng: random.Random
    partner: Portal
    rep: Portal
    now: datetime

    def common(self) -> dict[str, str]:
        """Values both sides agree on when a shared deal is consistent."""
        company = self.rng.choice(COMPANIES)
        products = self.rng.sample(PRODUCTS, self.rng.randint(1, 2))
        close = self.now + timedelta(days=self.rng.randint(5, 150))
        partner_team = self.rng.sample(PARTNER_OWNERS, self.rng.randint(1, 2))
        rep_team = self.rng.sample(REP_OWNERS, 1)
        return {
            "dealname": f"{company} - {products[0]}",
            "amount": str(self.rng.randrange(1_000, 200_000, 500)),
            "closedate": close.replace(hour=0, minute=0, second=0, microsecond=0).isoformat(),
            "product_interest": ";".join(products),
            "shared_deal_team": ";".join(sorted(o.email for o in (*partner_team, *rep_team))),
        }

    def when(self) -> datetime:
        return self.now - timedelta(days=self.rng.randint(1, 90), minutes=self.rng.randint(0, 600))

    def partner_deal(self, values: dict[str, str], *, referred: bool, at: datetime) -> str:
        pipeline = REFERRED_PIPELINE if referred else DEFAULT_PIPELINE
        props = {
            **values,
            "pipeline": pipeline.id,
            "dealstage": self.rng.choice(pipeline.stages[:4]).id,
            "hubspot_owner_id": self.rng.choice(PARTNER_OWNERS).id,
            COLLABORATORS: _collaborators(values, PARTNER_OWNERS),
        }
        return self.partner.create_deal(props, at=at)

    def rep_deal(self, values: dict[str, str], partner_id: str | None, at: datetime) -> str:
        props = {
            **values,
            "dealstage": self.rng.choice(DEFAULT_PIPELINE.stages[:5]).id,
            "hubspot_owner_id": self.rng.choice(REP_OWNERS).id,
            "shared_partner_account": PARTNER_ACCOUNT,
            COLLABORATORS: _collaborators(values, REP_OWNERS),
        }
        if partner_id is not None:  # in the default mapping's form: the account, then the id
            props["partner_deal_id"] = f"{PARTNER_ACCOUNT}:{partner_id}"
        return self.rep.create_deal(props, at=at)

    def linked_pair(self, *, diverge: bool) -> None:
        values, at = self.common(), self.when()
        referred = self.rng.random() < 0.3
        partner_id = self.partner_deal(values, referred=referred, at=at)
        if not referred:  # the partner registered it; a rep referral's counterpart is not
            self.partner.register_deal(partner_id, at=at)
        rep_id = self.rep_deal(values, partner_id, at + timedelta(minutes=1))
        self.partner.edit_deal(
            partner_id, {"rep_deal_id": rep_id}, source="INTEGRATION", at=at + timedelta(minutes=2)
        )
        if diverge:
            self.diverge(self.rng.choice((self.partner, self.rep)), partner_id, rep_id, at)

    def diverge(self, side: Portal, partner_id: str, rep_id: str, at: datetime) -> None:
        deal_id = partner_id if side is self.partner else rep_id
        edit = self.rng.choice(
            (
                {"amount": str(self.rng.randrange(1_000, 200_000, 500))},
                {"closedate": (self.now + timedelta(days=self.rng.randint(5, 150))).isoformat()},
                {"product_interest": ";".join(self.rng.sample(PRODUCTS, 2))},
            )
        )
        later = min(at + timedelta(days=self.rng.randint(1, 3)), self.now)
        side.edit_deal(deal_id, edit, at=later)

    def registered_only(self) -> None:
        at = self.when()
        deal_id = self.partner_deal(self.common(), referred=False, at=at)
        self.partner.register_deal(deal_id, at=at + timedelta(minutes=5))

    def referred_only(self) -> None:
        self.rep_deal(self.common(), None, self.when())

    def unshared(self) -> None:
        values = self.common()
        del values["shared_deal_team"]
        self.partner.create_deal(values, at=self.when())
        self.rep.create_deal({"dealname": values["dealname"] + " (direct)"}, at=self.when())


def seed_demo(sandbox: Sandbox, *, deals: int = 300, seed: int = 0) -> None:
    """Fill the demo portals with ``deals`` shared deals (plus ~10% unshared ones).

    About 70% are linked pairs (one in five of them with one side edited since), 15% partner deals
    registered but not linked yet, 15% rep deals referred to the partner with no counterpart.
    """
    now = sandbox.clock.now().astimezone(UTC)
    seeder = _Seeder(random.Random(seed), sandbox.portal("partner"), sandbox.portal("rep"), now)
    for _ in range(deals):
        roll = seeder.rng.random()
        if roll < 0.70:
            seeder.linked_pair(diverge=seeder.rng.random() < 0.2)
        elif roll < 0.85:
            seeder.registered_only()
        else:
            seeder.referred_only()
    for _ in range(max(1, deals // 10)):
        seeder.unshared()
