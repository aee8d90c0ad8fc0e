"""Seeded fault injection for one portal.

Each request draws from the portal's own ``random.Random`` in a fixed order (slow, server
error, extra 429, malformed body), so the same seed and the same request sequence give the same
faults. Server errors are decided before the handler runs (nothing was written) unless
``errors_after_write`` is set, which answers 5xx *after* the write landed — the case that turns a
retried create into a duplicate. Malformed bodies are 200s whose JSON is cut in half, after the
handler ran.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from hubspot_sandbox.errors import error_body

SERVER_ERRORS = (500, 502, 503, 504)
_MESSAGES = {
    500: "internal error",
    502: "Bad Gateway: the request could not be processed in time",
    503: "Service Unavailable",
    504: "Gateway Timeout: the request could not be processed in time",
}


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """Fault rates (0..1) for one portal; ``endpoints`` limits them to those endpoint names.

    ``index_lag_seconds`` (when not None) overrides the portal's search index lag.
    """

    error_rate: float = 0.0
    rate_limit_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 0.5
    malformed_rate: float = 0.0
    errors_after_write: bool = False
    index_lag_seconds: float | None = None
    endpoints: frozenset[str] | None = None

    def __post_init__(self) -> None:
        for name in ("error_rate", "rate_limit_rate", "slow_rate", "malformed_rate"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {rate}")

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> FaultSpec:
        """Build from the admin API's JSON body; unknown keys are a ValueError."""
        known = {f.name for f in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"unknown fault settings {sorted(unknown)}; known: {sorted(known)}")
        values = dict(raw)
        if values.get("endpoints") is not None:
            values["endpoints"] = frozenset(values["endpoints"])
        return cls(**values)

    @property
    def quiet(self) -> bool:
        """No fault can be drawn: every rate is 0 (the default)."""
        rates = (self.error_rate, self.rate_limit_rate, self.slow_rate, self.malformed_rate)
        return not any(rates)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["endpoints"] = sorted(self.endpoints) if self.endpoints is not None else None
        return data


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """What to do to one request."""

    delay: float = 0.0
    server_error: int | None = None
    rate_limited: bool = False
    malformed: bool = False
    after_write: bool = False


@dataclass
class FaultInjector:
    """Draws a :class:`FaultPlan` per request from a seeded generator.

    The generator is made at the first draw, and a quiet spec (every rate 0) draws nothing:
    what a quiet spec would draw can never show (:meth:`configure` restarts the generator), and
    a portal without faults then costs neither the generator's memory nor its draws."""

    seed: str
    spec: FaultSpec = field(default_factory=FaultSpec)

    def __post_init__(self) -> None:
        self._random: random.Random | None = None
        self._lock = threading.Lock()

    def configure(self, spec: FaultSpec) -> None:
        """Replace the fault settings and restart the generator (so runs are reproducible)."""
        with self._lock:
            self.spec = spec
            self._random = None

    def plan(self, endpoint: str) -> FaultPlan:
        spec = self.spec
        if spec.quiet or (spec.endpoints is not None and endpoint not in spec.endpoints):
            return FaultPlan()
        with self._lock:
            if self._random is None:
                self._random = random.Random(self.seed)
            rolls = [self._random.random() for _ in range(4)]
            status = self._random.choice(SERVER_ERRORS)
        return FaultPlan(
            delay=spec.slow_seconds if rolls[0] < spec.slow_rate else 0.0,
            server_error=status if rolls[1] < spec.error_rate else None,
            rate_limited=rolls[2] < spec.rate_limit_rate,
            malformed=rolls[3] < spec.malformed_rate,
            after_write=spec.errors_after_write,
        )


def server_error_body(status: int) -> dict[str, Any]:
    """A HubSpot-like 5xx body."""
    return error_body(
        _MESSAGES[status], "INTERNAL_ERROR" if status == 500 else "SERVICE_UNAVAILABLE"
    )


def truncate(body: bytes) -> bytes:
    """Cut a JSON body in half so it cannot be parsed."""
    return body[: max(1, len(body) // 2)]
