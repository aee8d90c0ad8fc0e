"""The lease heartbeat: keeps a pair's short lease alive while its cycle runs.

A cycle may spend minutes in one call (a long ``Retry-After``, pacing for the rate limit, a
slow page), so renewing the lease between pages alone would let a short lease lapse while the
holder is alive. A small thread renews it every third of the TTL instead, whatever the cycle is
doing; when the holder dies, the heartbeat dies with it and the lease lapses within the TTL.

The beat waits on real time (``threading.Event``), not on the injected clock: it measures how
long this process has been silent, which a test's fake clock does not model.
"""

from __future__ import annotations

import threading
from types import TracebackType

import structlog

from sync_worker.sync.context import PairContext

log = structlog.stdlib.get_logger("sync_worker.sync.heartbeat")


class LeaseHeartbeat:
    """``with LeaseHeartbeat(ctx, owner):`` renews ``ctx``'s lease for ``owner`` until exit.
    ``lost`` turns true if a renewal is refused (another process holds the pair now)."""

    def __init__(self, ctx: PairContext, owner: str) -> None:
        self._ctx = ctx
        self._owner = owner
        self._interval = max(0.1, ctx.lease_ttl_seconds / 3)
        self._done = threading.Event()
        self._lost = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{ctx.name}", daemon=True)

    @property
    def lost(self) -> bool:
        return self._lost.is_set()

    def __enter__(self) -> LeaseHeartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._done.set()
        self._thread.join(timeout=30)

    def _beat(self) -> None:
        ctx = self._ctx
        while not self._done.wait(self._interval):
            try:
                renewed = ctx.store.try_lease(
                    ctx.name, self._owner, ctx.clock.now(), ctx.lease_ttl_seconds
                )
            except Exception:  # the store may be unreachable for a moment: try next beat
                log.warning("lease_renewal_failed", pair=ctx.name, exc_info=True)
                continue
            if not renewed:
                self._lost.set()
                log.warning("lease_lost", pair=ctx.name, detail="another process holds the pair")
                return
