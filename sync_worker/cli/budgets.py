"""The credentials' rate budgets as ``status`` shows them: a table for people, a list for
``--json``. The figures are the budget's own, so a shared budget shows what every process
using the credential spent (a ``backfill`` next to the daemon included), as ``/metrics`` does."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.table import Table

from sync_worker.connectors.budget import BudgetSnapshot


def budgets_document(budgets: Sequence[BudgetSnapshot], now: datetime) -> list[dict[str, Any]]:
    """``status --json``'s ``credentials``: one entry per paced credential."""
    return [
        {
            "credential": budget.credential,
            "shared": budget.shared,
            "window": {"limit": budget.general_limit, "used": budget.general_used},
            "search": {"limit": budget.search_limit, "used": budget.search_used},
            "blocked_until": _blocked_until(budget, now),
            "daily_remaining": budget.daily_remaining,
            "daily_limit_until": budget.daily_resets_at,
        }
        for budget in budgets
    ]


def budgets_table(budgets: Sequence[BudgetSnapshot]) -> Table:
    table = Table(title="rate budgets")
    for column in ("credential", "kept", "10-s window", "searches/s", "daily left", "note"):
        table.add_column(column)
    for budget in budgets:
        table.add_row(
            budget.credential,
            "state store (all processes)" if budget.shared else "this process",
            f"{budget.general_used}/{budget.general_limit}",
            f"{budget.search_used}/{budget.search_limit}",
            "-" if budget.daily_remaining is None else f"{budget.daily_remaining:,}",
            _note(budget),
        )
    return table


def _blocked_until(budget: BudgetSnapshot, now: datetime) -> datetime | None:
    return now + timedelta(seconds=budget.blocked_for) if budget.blocked_for > 0 else None


def _note(budget: BudgetSnapshot) -> str:
    if budget.daily_resets_at is not None:
        return (
            f"daily limit reached until {budget.daily_resets_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        )
    if budget.blocked_for > 0:
        return f"HubSpot said none remain: paused for {budget.blocked_for:.0f}s"
    return ""
