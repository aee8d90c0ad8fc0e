"""Simulated response time: real HubSpot answers a call in roughly 100-300 ms.

Each answered API call (429s included; admin calls never) waits a uniform draw between
``low`` and ``high`` seconds after it was counted against the rate limits, before its handler
runs, without holding up other calls (the wait is asynchronous). The default, ``(0, 0)``, adds
nothing. Draws come from a generator seeded per portal, made at the first draw.
"""

from __future__ import annotations

import random
import threading


class Latency:
    """One portal's simulated response time; :meth:`configure` changes it at run time."""

    def __init__(self, seed: str, low: float = 0.0, high: float = 0.0) -> None:
        self._seed = seed
        self._lock = threading.Lock()
        self._random: random.Random | None = None
        self.low, self.high = _checked(low, high)

    def configure(self, low: float, high: float) -> None:
        """Answer in ``low``..``high`` seconds from now on (``0, 0``: at once)."""
        low, high = _checked(low, high)
        with self._lock:
            self.low, self.high = low, high

    def draw(self) -> float:
        """Seconds the next call waits (0.0 when no latency is set)."""
        with self._lock:
            if self.high <= 0.0:
                return 0.0
            if self._random is None:
                self._random = random.Random(self._seed)
            return self._random.uniform(self.low, self.high)


def _checked(low: float, high: float) -> tuple[float, float]:
    if not 0.0 <= low <= high:
        raise ValueError(f"latency must satisfy 0 <= low <= high, got low={low}, high={high}")
    return float(low), float(high)
