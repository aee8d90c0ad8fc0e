"""Declarative mapping files shipped with the worker (data, validated on load)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def builtin_mapping_path(name: str) -> Path:
    """Path of the packaged mapping ``name`` (with or without ``.toml``)."""
    file_name = name if name.endswith(".toml") else f"{name}.toml"
    ref = resources.files(__name__).joinpath(file_name)
    return Path(str(ref))


def builtin_mapping_names() -> list[str]:
    """Names of every packaged mapping file."""
    return sorted(
        p.name.removesuffix(".toml")
        for p in resources.files(__name__).iterdir()
        if p.name.endswith(".toml")
    )
