"""The ``[console]`` section: the daemon's web console, off unless enabled, and who may use it.

Credentials are secrets, like the CRM tokens: never in the config file (a password there is
refused). They come from the environment (``SYNC_WORKER_CONSOLE__VIEWER_PASSWORD`` signs in as
``viewer``, ``SYNC_WORKER_CONSOLE__OPERATOR_PASSWORD`` as ``operator``) or from a secrets file
(``console.users_file``, e.g. a mounted Docker/Kubernetes secret) with one person per line::

    # name:role:password     (role: viewer reads, operator also resolves and retries)
    ada:operator:correct horse battery staple
    grace:viewer:another long passphrase

Named people make the log say who resolved a conflict. Every password is ``SecretStr``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr

MIN_PASSWORD_LENGTH = 12
MIN_SESSION_SECRET_LENGTH = 32
SECRET_KEYS = ("viewer_password", "operator_password", "session_secret")
"""Keys of ``[console]`` that hold secrets: refused in the config file."""
_USER_NAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")


class ConsoleRole(StrEnum):
    """What a signed-in person may do: a viewer reads every page, an operator also acts."""

    VIEWER = "viewer"
    OPERATOR = "operator"


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    name: str
    role: ConsoleRole
    password: SecretStr

    def __repr__(self) -> str:
        return f"ConsoleUser({self.name!r}, {self.role.value})"


class ConsoleSettings(BaseModel):
    """The web console; see the module docstring for the credentials."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(9465, ge=0, le=65_535)
    https: bool = False
    """People reach the console through HTTPS (a TLS proxy in front): cookies are ``Secure``
    even when the proxy's ``X-Forwarded-Proto`` is not trusted."""
    session_minutes: int = Field(480, ge=5, le=10_080)
    viewer_password: SecretStr | None = None
    operator_password: SecretStr | None = None
    users_file: Path | None = None
    session_secret: SecretStr | None = None
    """Signs the session cookies; without it a random key per start (sessions end at restart)."""


def console_users(settings: ConsoleSettings) -> tuple[tuple[ConsoleUser, ...], list[str]]:
    """The people who may sign in, and the problems found (only checked when enabled)."""
    if not settings.enabled:
        return (), []
    users: list[ConsoleUser] = []
    problems: list[str] = []
    for role, secret in (
        (ConsoleRole.VIEWER, settings.viewer_password),
        (ConsoleRole.OPERATOR, settings.operator_password),
    ):
        if secret is not None and secret.get_secret_value():
            users.append(ConsoleUser(role.value, role, secret))
    if settings.users_file is not None:
        found, file_problems = _read_users_file(settings.users_file)
        users += found
        problems += file_problems
    problems += _weak(users)
    names = [u.name for u in users]
    problems += [
        f"console: user {name!r} is defined twice"
        for name in sorted({n for n in names if names.count(n) > 1})
    ]
    secret = settings.session_secret
    if secret is not None and len(secret.get_secret_value()) < MIN_SESSION_SECRET_LENGTH:
        problems.append(
            f"console.session_secret: at least {MIN_SESSION_SECRET_LENGTH} characters "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
        )
    if not users and not problems:
        problems.append(
            "console.enabled: nobody can sign in; set SYNC_WORKER_CONSOLE__OPERATOR_PASSWORD "
            "(and/or SYNC_WORKER_CONSOLE__VIEWER_PASSWORD) or console.users_file"
        )
    return tuple(users), problems


def _weak(users: list[ConsoleUser]) -> list[str]:
    return [
        f"console: the password of {user.name!r} is shorter than {MIN_PASSWORD_LENGTH} characters"
        for user in users
        if len(user.password.get_secret_value()) < MIN_PASSWORD_LENGTH
    ]


def _read_users_file(path: Path) -> tuple[list[ConsoleUser], list[str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        return [], [f"console.users_file: cannot read {path}: {reason}"]
    users: list[ConsoleUser] = []
    problems: list[str] = []
    roles = ", ".join(r.value for r in ConsoleRole)
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, rest = line.partition(":")
        role, _, password = rest.partition(":")
        where = f"console.users_file: {path} line {number}"
        if not _USER_NAME.match(name.strip()):
            problems.append(f"{where}: expected name:role:password (name: letters, digits, ._@-)")
        elif role.strip() not in {r.value for r in ConsoleRole}:
            problems.append(f"{where}: role must be one of {roles}")  # never echo the line
        else:
            users.append(ConsoleUser(name.strip(), ConsoleRole(role.strip()), SecretStr(password)))
    return users, problems
