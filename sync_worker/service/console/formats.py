"""How the console writes times and values: UTC with its zone, and "3m ago" for recency."""

from __future__ import annotations

from datetime import datetime


def when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def ago(moment: datetime | None, now: datetime, *, suffix: str = " ago") -> str:
    """``42s ago``, ``5m ago``, ``3h ago``, ``2d ago``; a moment in the future is ``in 5m``."""
    if moment is None:
        return "-"
    seconds = int((now - moment).total_seconds())
    ahead = seconds < 0
    span = _span(abs(seconds))
    return f"in {span}" if ahead else f"{span}{suffix}"


def _span(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172_800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86_400}d"


def shown(value: str | None) -> str:
    """A display value; no value is an em dash, never an empty cell. The items of a
    multi-value (``a;b``) are spaced so that a narrow cell can wrap between them."""
    if value is None or value == "":
        return "—"
    return value.replace(";", "; ")
