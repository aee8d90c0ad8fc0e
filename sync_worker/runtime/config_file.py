"""Reading the config file itself: TOML that must be UTF-8, and must hold no secret."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sync_worker.kernel.errors import ConfigError
from sync_worker.runtime.console_settings import SECRET_KEYS
from sync_worker.runtime.environment import variable

CONFIG_ENV_VAR = "SYNC_WORKER_CONFIG"
ENDPOINT_SECRET_KEYS = ("token", "webhook_secret")
"""Endpoint keys whose values are secrets: set from the environment or a ``*_file``."""


def read_toml(path: Path) -> dict[str, Any]:
    """The parsed file, or a ConfigError saying why it cannot be read (missing, not UTF-8,
    not TOML, unreadable) in one line."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(
            f"config file not found (pass --config PATH or set {CONFIG_ENV_VAR})", source=str(path)
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", source=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
            "save the file as UTF-8",
            source=str(path),
        ) from None
    except OSError as exc:  # a directory, no permission, ...
        problem = f"cannot read the config file: {exc.strerror}"
        raise ConfigError(problem, source=str(path)) from None


def secrets_in_file(data: Mapping[str, Any], prefix: str) -> list[str]:
    """A secret written in the file (an endpoint's token or webhook secret, a console password)
    is refused: a config file can be committed and shared."""
    endpoints = data.get("endpoints")
    console = data.get("console")
    found = []
    if isinstance(endpoints, Mapping):
        found += [
            f"endpoints.{name}.{key}: secrets do not belong in the config file; set "
            f"{variable(prefix, 'endpoints', name, key)} or endpoints.{name}.{key}_file"
            for name, section in endpoints.items()
            if isinstance(section, Mapping)
            for key in ENDPOINT_SECRET_KEYS
            if key in section
        ]
    if isinstance(console, Mapping):
        found += [
            f"console.{key}: secrets do not belong in the config file; set "
            f"{variable(prefix, 'console', key)}"
            + (" or console.users_file" if key.endswith("password") else "")
            for key in SECRET_KEYS
            if key in console
        ]
    return found
