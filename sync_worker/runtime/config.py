"""Configuration: one TOML file plus environment overrides, validated before any CRM is touched.

Sources, highest priority first: environment variables ``SYNC_WORKER_<SECTION>__<KEY>`` (nested
with ``__``, e.g. ``SYNC_WORKER_ENDPOINTS__REP__TOKEN``), then the TOML file. Tokens are
``SecretStr`` and come from the environment or from a ``token_file`` (a mounted secret), and so
do webhook secrets (:mod:`sync_worker.runtime.secrets`); a secret written in the TOML file is
refused, so a config file can be committed and shared safely.

Every problem is reported as one line naming the key path and what is allowed, and raised as a
:class:`~sync_worker.kernel.errors.ConfigError` (the CLI exits 2 on it).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from sync_worker.kernel.errors import ConfigError
from sync_worker.mappings import builtin_mapping_names, builtin_mapping_path
from sync_worker.runtime import environment, secrets
from sync_worker.runtime.config_file import CONFIG_ENV_VAR, read_toml, secrets_in_file
from sync_worker.runtime.console_settings import ConsoleSettings, ConsoleUser, console_users
from sync_worker.runtime.validation import format_validation_error

ENV_PREFIX = "SYNC_WORKER_"
DEFAULT_CONFIG_PATH = Path("config.toml")
RateLimitTier = Literal[
    "free", "starter", "professional", "enterprise", "api_limit_increase", "oauth", "unlimited"
]
_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_STATE_URL_SCHEMES = ("sqlite:///", "postgresql://", "postgres://", "postgresql+psycopg://")


class WorkerSettings(_Section):
    """Process-wide settings."""

    state_url: str = "sqlite:///sync-state.db"
    interval_seconds: int = Field(300, ge=5, le=86_400)
    jitter_seconds: int = Field(15, ge=0, le=3_600)
    max_parallel_pairs: int = Field(4, ge=1, le=64)
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(9464, ge=0, le=65_535)
    unhealthy_after_failures: int = Field(3, ge=1, le=1_000)
    dead_letter_max_attempts: int = Field(10, ge=1, le=1_000)
    stop_grace_seconds: float = Field(60.0, ge=1.0, le=3_600.0)
    history_days: int = Field(90, ge=0, le=36_500)
    lease_ttl_seconds: float = Field(30.0, ge=3.0, le=3_600.0)
    webhook_public_url: str | None = None
    webhook_max_body_bytes: int = Field(2 * 1024 * 1024, ge=1_024, le=64 * 1024 * 1024)

    @field_validator("webhook_public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")) or "?" in value or "#" in value:
            raise ValueError(
                "must be the http:// or https:// URL HubSpot calls, up to the part the daemon "
                "serves (no query), e.g. https://sync.example.com"
            )
        return value.rstrip("/")

    @field_validator("state_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(_STATE_URL_SCHEMES):
            raise ValueError(
                "must start with sqlite:/// or postgresql:// (or postgres://, "
                "postgresql+psycopg://)"
            )
        return value


class EndpointSettings(_Section):
    """One CRM account (portal) and how to reach it."""

    kind: Literal["hubspot"] = "hubspot"
    base_url: str = "https://api.hubapi.com"
    token: SecretStr | None = None
    token_file: Path | None = None
    rate_limit_tier: RateLimitTier = "free"
    account_timezone: str = "UTC"
    timeout_seconds: float = Field(30.0, gt=0, le=600)
    search_overlap_seconds: float = Field(120.0, ge=0, le=86_400)
    max_attempts: int = Field(6, ge=1, le=20)
    webhook_secret: SecretStr | None = None
    webhook_secret_file: Path | None = None
    webhook_portal_id: int | None = Field(None, ge=1)

    @field_validator("account_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone name such as Europe/Paris") from None
        return value

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")


class PairSettings(_Section):
    """One partner account <-> the rep CRM."""

    partner: str
    rep: str
    partner_account: str = Field(min_length=1)
    mapping: str = "hubspot_shared_deals"
    interval_seconds: int | None = Field(None, ge=5, le=86_400)
    enabled: bool = True


def env_name(*path: str) -> str:
    """The environment variable for a config key: ``env_name("pairs", "agency-001", "enabled")``
    is ``SYNC_WORKER_PAIRS__AGENCY_001__ENABLED`` (shells cannot export a name with ``-``)."""
    return environment.variable(ENV_PREFIX, *path)


def _env_key(name: str) -> str:
    return name.lower().replace("-", "_")


class _EnvNamedAsInFile(PydanticBaseSettingsSource):
    """The environment overrides, with endpoint and pair names matched to the file's.

    A shell cannot export ``SYNC_WORKER_PAIRS__AGENCY-001__ENABLED``; the variable is written
    ``..._AGENCY_001_...`` and reaches ``[pairs.agency-001]`` here. A name the file does not
    have stays as written (it then defines a new endpoint or pair, validated as usual).
    """

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        env: PydanticBaseSettingsSource,
        file: PydanticBaseSettingsSource,
    ) -> None:
        super().__init__(settings_cls)
        self._env = env
        self._file = file

    def get_field_value(
        self,
        field: FieldInfo,  # noqa: ARG002 - the abstract method's signature
        field_name: str,
    ) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ delegates to the env source

    def __call__(self) -> dict[str, Any]:
        data = self._env()
        in_file = self._file()
        for section in ("endpoints", "pairs"):
            overrides, named = data.get(section), in_file.get(section)
            if not isinstance(overrides, dict) or not isinstance(named, dict):
                continue
            by_key = {_env_key(name): name for name in named}
            data[section] = {
                key if key in named else by_key.get(_env_key(key), key): value
                for key, value in overrides.items()
            }
        return data


class Settings(BaseSettings):
    """The whole configuration. Build it with :func:`load_config`, not directly."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True
    )

    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    endpoints: dict[str, EndpointSettings] = Field(default_factory=dict)
    pairs: dict[str, PairSettings] = Field(default_factory=dict)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML file's content arrives as init kwargs; the environment overrides it.
        return (_EnvNamedAsInFile(settings_cls, env_settings, init_settings), init_settings)

    def enabled_pairs(self) -> dict[str, PairSettings]:
        return {name: pair for name, pair in self.pairs.items() if pair.enabled}

    def secret_values(self) -> list[str]:
        """Every secret in the config (tokens, a password in the state URL), so the log
        redactor can mask it wherever it appears."""
        secrets = [
            secret.get_secret_value()
            for endpoint in self.endpoints.values()
            for secret in (endpoint.token, endpoint.webhook_secret)
            if secret is not None and secret.get_secret_value()
        ]
        console = self.console
        for secret in (console.viewer_password, console.operator_password, console.session_secret):
            if secret is not None and secret.get_secret_value():
                secrets.append(secret.get_secret_value())
        password = urlsplit(self.worker.state_url).password
        if password:
            secrets += [password, unquote(password)]  # as written, and decoded
        return secrets


class LoadedConfig(BaseModel):
    """Validated settings plus where they came from."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    settings: Settings
    path: Path
    mapping_paths: dict[str, Path]
    console_users: tuple[ConsoleUser, ...] = ()
    """Who may sign in to the web console (empty while it is off)."""

    def secret_values(self) -> list[str]:
        """Every secret: the settings' and the console passwords of ``console.users_file``."""
        users = [u.password.get_secret_value() for u in self.console_users]
        return self.settings.secret_values() + [p for p in users if p]


def resolve_config_path(path: Path | None, env: Mapping[str, str] | None = None) -> Path:
    """``--config`` wins, then ``$SYNC_WORKER_CONFIG``, then ``./config.toml``."""
    environ = os.environ if env is None else env
    if path is not None:
        return path
    from_env = environ.get(CONFIG_ENV_VAR)
    return Path(from_env) if from_env else DEFAULT_CONFIG_PATH


def load_config(path: Path | None = None, *, require_tokens: bool = True) -> LoadedConfig:
    """Read, merge and validate the configuration; raise ConfigError listing every problem.

    ``require_tokens=False`` (``check --offline``) validates everything but the tokens, so a
    config can be checked where its secrets are not (CI)."""
    config_path = resolve_config_path(path)
    source = str(config_path)
    data = read_toml(config_path)
    problems = secrets_in_file(data, ENV_PREFIX) + _unknown_variables(data, os.environ)
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        raise ConfigError(
            problems + format_validation_error(exc, Settings), source=source
        ) from None
    settings, token_problems = _with_file_secrets(settings)
    problems += (token_problems if require_tokens else []) + _cross_check(settings)
    mapping_paths, mapping_problems = _resolve_mappings(settings, config_path.parent)
    users, console_problems = console_users(settings.console)
    problems += mapping_problems + console_problems
    if problems:
        raise ConfigError(problems, source=source)
    return LoadedConfig(
        settings=settings, path=config_path, mapping_paths=mapping_paths, console_users=users
    )


def _unknown_variables(data: Mapping[str, Any], environ: Mapping[str, str]) -> list[str]:
    valid = environment.valid_variables(
        ENV_PREFIX,
        {"worker": WorkerSettings, "console": ConsoleSettings},
        {
            "endpoints": (EndpointSettings, environment.table_names(data, "endpoints")),
            "pairs": (PairSettings, environment.table_names(data, "pairs")),
        },
    )
    return [
        f"environment: {name} sets nothing"
        + (f"; did you mean {nearest}?" if nearest else "; see config.example.toml for the keys")
        for name, nearest in environment.unknown_variables(ENV_PREFIX, environ, valid)
    ]


def _with_file_secrets(settings: Settings) -> tuple[Settings, list[str]]:
    problems: list[str] = []
    endpoints: dict[str, EndpointSettings] = {}
    for name, endpoint in settings.endpoints.items():
        found: dict[str, SecretStr | None] = {}
        for key in secrets.ENDPOINT_SECRETS:
            value, problem = secrets.resolve(
                ENV_PREFIX, name, key, getattr(endpoint, key.name), getattr(endpoint, key.file_key)
            )
            problems += [problem] if problem else []
            found[key.name] = value
        endpoints[name] = endpoint.model_copy(update=found)
    return settings.model_copy(update={"endpoints": endpoints}), problems


def _cross_check(settings: Settings) -> list[str]:
    problems: list[str] = []
    known = sorted(settings.endpoints)
    for kind, names in (("endpoints", settings.endpoints), ("pairs", settings.pairs)):
        problems += [
            f"{kind}.{name}: invalid name; use lower-case letters, digits, '-' and '_'"
            for name in names
            if not _valid_name(name)
        ]
    for name, pair in settings.pairs.items():
        for role in ("partner", "rep"):
            endpoint = getattr(pair, role)
            if endpoint not in settings.endpoints:
                problems.append(
                    f"pairs.{name}.{role}: unknown endpoint {endpoint!r}; "
                    f"defined endpoints: {', '.join(known) or '(none)'}"
                )
        if pair.partner == pair.rep:
            problems.append(f"pairs.{name}: partner and rep must be different endpoints")
    if not settings.enabled_pairs():
        problems.append("pairs: no enabled pair; define at least one [pairs.NAME] table")
    return problems


def _valid_name(name: str) -> bool:
    return re.fullmatch(_NAME_PATTERN, name) is not None


def _resolve_mappings(settings: Settings, base_dir: Path) -> tuple[dict[str, Path], list[str]]:
    paths: dict[str, Path] = {}
    problems: list[str] = []
    for name, pair in settings.pairs.items():
        path = resolve_mapping(pair.mapping, base_dir)
        if path is None:
            problems.append(
                f"pairs.{name}.mapping: {pair.mapping!r} is neither a file (relative to the config "
                f"file) nor a built-in mapping; built-in: {', '.join(builtin_mapping_names())}"
            )
        else:
            paths[name] = path
    return paths, problems


def resolve_mapping(reference: str, base_dir: Path) -> Path | None:
    """A mapping reference is a path (relative to the config file's folder) or a built-in name."""
    candidate = Path(reference)
    if not candidate.is_absolute():
        candidate = base_dir / candidate
    if candidate.is_file():
        return candidate
    if "/" not in reference and reference.removesuffix(".toml") in builtin_mapping_names():
        return builtin_mapping_path(reference)
    return None
