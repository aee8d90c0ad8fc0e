"""An endpoint's secrets: each comes from the environment or from a file beside it (a mounted
Docker or Kubernetes secret), never from the config file itself.

Two per endpoint: the API ``token`` (required) and the ``webhook_secret`` (the HubSpot app's
client secret that signs webhook deliveries; optional: without it the endpoint's webhook route
is off). Both are ``SecretStr``; a problem is one line naming the key, never the value.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from sync_worker.runtime.environment import variable


@dataclass(frozen=True, slots=True)
class SecretKey:
    """One secret key of an endpoint: ``token`` (with ``token_file``) or ``webhook_secret``
    (with ``webhook_secret_file``)."""

    name: str
    required: bool

    @property
    def file_key(self) -> str:
        return f"{self.name}_file"


TOKEN = SecretKey("token", required=True)
WEBHOOK_SECRET = SecretKey("webhook_secret", required=False)
ENDPOINT_SECRETS = (TOKEN, WEBHOOK_SECRET)


def resolve(
    prefix: str, endpoint: str, key: SecretKey, value: SecretStr | None, file: Path | None
) -> tuple[SecretStr | None, str | None]:
    """The secret (the environment's value first, then the file's) or the problem with it.

    An optional secret that is set nowhere is ``(None, None)``; a file that is named but
    unreadable or empty is a problem either way."""
    if value is not None and value.get_secret_value():
        return value, None
    where = f"endpoints.{endpoint}"
    if file is None:
        if not key.required:
            return None, None
        env = variable(prefix, "endpoints", endpoint, key.name)
        return None, f"{where}: no {key.name}; set {env} or {where}.{key.file_key}"
    try:
        text = file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        return None, f"{where}.{key.file_key}: cannot read {file}: {exc.strerror}"
    if not text:
        return None, f"{where}.{key.file_key}: {file} is empty"
    return SecretStr(text), None
