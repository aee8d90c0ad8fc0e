"""The one exception tree, grouped by what the caller does about it.

::

    SyncError                      base; never raised directly
    ├── ConfigError                bad config or mapping file -> exit 2 before touching any CRM
    ├── ConnectorError             raised at a connector's edge (HTTP errors converted there)
    │   ├── TransientError         retried by the one retry policy; if it persists the pair's
    │   │   │                      cycle fails and resumes from its committed cursor next cycle
    │   │   ├── RateLimited        like Transient, but wait ``retry_after`` seconds first
    │   │   └── RetryAfterError    like Transient, but wait the time the CRM named (423, 477)
    │   ├── DailyLimitReached      stop the portal's work until ``resets_at``; no retry loop
    │   ├── AuthError              credentials rejected / scopes missing -> stop the pair
    │   └── PermanentError         the request itself is wrong -> fail the operation, do not retry
    ├── RejectedValueError         (also a ValueError) a value a field cannot read or write ->
    │                              hold that field back, dead-letter the record, sync the rest
    ├── WriteRefused               a write a person asked for (a conflict resolution) was
    │                              refused -> nothing changed, the item stays open (exit 1)
    ├── ConflictNotFound           (also a LookupError) no open conflict has that id -> exit 1
    ├── LinkRepointed              (also a ValueError) a commit would move a settled link to
    │                              another deal -> nothing of the page lands (a bug, or a
    │                              process that lost its lease)
    ├── LeaseLost                  another process took the pair -> stop the cycle; the page in
    │                              flight is redone by whoever holds the pair
    ├── WebhookRefused             a webhook request that cannot be taken (too large, not an
    │                              array of events) -> answer its ``status``, queue nothing
    └── Interrupted                the process is stopping and a wait was cut short -> the
                                   cycle ends "stopped" without committing the page in flight

A record that cannot be synced is not an exception: the page's ledger dead-letters it with its
reason and the rest goes on. Only the engine catches, and only what it can act on. Messages
never contain secrets: the connector builds them from HubSpot's error body and the request
path, never from headers.
"""

from __future__ import annotations

from datetime import datetime


class SyncError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(SyncError):
    """A configuration or mapping file is invalid; ``problems`` lists one line per problem."""

    def __init__(self, problems: list[str] | str, *, source: str | None = None) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__("\n".join(prefix + p for p in self.problems))


class ConnectorError(SyncError):
    """A CRM call failed. ``status`` is the HTTP status when there was one."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        category: str | None = None,
        correlation_id: str | None = None,
        properties: tuple[str, ...] = (),
    ) -> None:
        self.status = status
        self.category = category
        self.correlation_id = correlation_id
        self.properties = properties
        """Properties the CRM named as invalid (validation errors), when it named any."""
        super().__init__(message)


class TransientError(ConnectorError):
    """Worth retrying: 5xx, 423, timeouts, connection errors."""


class RateLimited(TransientError):
    """A short-window rate limit (ten-secondly or secondly); retry after ``retry_after`` seconds."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        policy: str | None = None,
        status: int | None = 429,
        correlation_id: str | None = None,
    ) -> None:
        self.retry_after = retry_after
        self.policy = policy
        super().__init__(
            message, status=status, category="RATE_LIMIT", correlation_id=correlation_id
        )


class DailyLimitReached(ConnectorError):
    """The portal's daily API budget is spent: stop its work until ``resets_at``."""

    def __init__(
        self, message: str, *, resets_at: datetime | None = None, correlation_id: str | None = None
    ) -> None:
        self.resets_at = resets_at
        super().__init__(message, status=429, category="RATE_LIMIT", correlation_id=correlation_id)


class AuthError(ConnectorError):
    """The token was refused (401) or lacks scopes (403): stop the pair, page a human."""


class PermanentError(ConnectorError):
    """The request is wrong (most 4xx): retrying cannot help."""


class RetryAfterError(TransientError):
    """A transient failure that says how long to wait (423 Locked, 477 Migration in progress)."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float,
        status: int | None = None,
        category: str | None = None,
        correlation_id: str | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, status=status, category=category, correlation_id=correlation_id)


class RejectedValueError(SyncError, ValueError):
    """A value that cannot be read (malformed) or written (outside a value map)."""


class WriteRefused(SyncError):
    """The CRM refused a write a person asked for (``side`` deal ``record_id``): nothing
    changed, and what asked for it (an open conflict) stays open."""

    def __init__(self, record_id: str, reason: str, *, side: str | None = None) -> None:
        self.record_id = record_id
        self.reason = reason
        self.side = side
        where = f"{side} deal {record_id}" if side else f"deal {record_id}"
        super().__init__(f"{where}: {reason}")


class ConflictNotFound(SyncError, LookupError):
    """No open conflict has this id (in this pair): nothing to resolve."""

    def __init__(self, conflict_id: int, pair: str | None = None) -> None:
        self.conflict_id = conflict_id
        self.pair = pair
        where = f" in pair {pair}" if pair else ""
        super().__init__(f"no open conflict {conflict_id}{where}")


class LinkRepointed(SyncError, ValueError):
    """A page tried to re-point a link that is not ``pending`` at another rep deal."""


class LeaseLost(SyncError):
    """The pair's lease could not be renewed: another process may be working on it now."""

    def __init__(self, pair: str) -> None:
        self.pair = pair
        super().__init__(f"lease of pair {pair} lost to another process")


class WebhookRefused(SyncError):
    """A webhook request the route will not take; ``status`` is the HTTP answer (413 too large,
    400 not a JSON array). The message names the reason, never a header or the body."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(f"webhook refused ({status}): {reason}")


class Interrupted(SyncError):
    """The process is stopping: a sleep (a retry backoff, rate-limit pacing) was cut short.

    Nothing is lost: the page in flight is not committed, and the next run converges from the
    committed state, as after any stop between a write and its commit."""
