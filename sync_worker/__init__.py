"""Shared-deal sync worker: keeps shared deals consistent between a partner CRM and the rep CRM."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("shared-deal-sync")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"
