"""structlog, configured once: JSON lines in containers, the console renderer on a TTY.

Every event passes through :class:`Redactor`, which masks secret-looking keys (``token``,
``authorization``, ...), secret-looking values (``Bearer ...``, HubSpot ``pat-...`` tokens) and
every secret the configuration holds, wherever it appears in a string. Tracebacks are rendered
without local variables: structlog's and rich's defaults print frame locals, which leaks tokens.
Standard-library loggers (APScheduler, uvicorn, httpx) are routed through the same processors.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, Literal, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

REDACTED = "[REDACTED]"
SENSITIVE_KEYS = frozenset(
    {
        "token",
        "access_token",
        "refresh_token",
        "authorization",
        "password",
        "secret",
        "client_secret",
        "api_key",
        "apikey",
        "cookie",
        "set-cookie",
    }
)
_SECRET_PATTERNS = (
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"),
    re.compile(r"\bpat-[a-z0-9]{2,4}-[A-Za-z0-9-]{8,}"),
    re.compile(r"(?i)\b(token|secret|password|api_key)=[^\s&]+"),
)

LogFormat = Literal["auto", "json", "console"]


class Redactor:
    """A structlog processor masking secrets in keys, values and known secret strings."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret containing another is masked whole.
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def __call__(self, _: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
        redacted = self._redact(event_dict)
        assert isinstance(redacted, dict)  # noqa: S101 - _redact keeps the container type
        return redacted

    def _redact(self, value: Any) -> Any:
        if isinstance(value, MutableMapping | dict):
            return {
                k: REDACTED if _is_sensitive_key(k) else self._redact(v) for k, v in value.items()
            }
        if isinstance(value, list | tuple | set | frozenset):
            return type(value)(self._redact(v) for v in value)
        if isinstance(value, str):
            return self.redact_text(value)
        return value

    def redact_text(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        for pattern in _SECRET_PATTERNS:
            text = pattern.sub(REDACTED, text)
        return text


def _is_sensitive_key(key: object) -> bool:
    name = str(key).lower()
    return name in SENSITIVE_KEYS or name.endswith(("_token", "_secret", "_password"))


def shared_processors(redactor: Redactor) -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        redactor,
    ]


def _renderer(use_json: bool, redactor: Redactor) -> list[Processor]:
    if use_json:
        return [
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            ),
            redactor,  # exception text can quote a secret: redact after rendering it
            structlog.processors.JSONRenderer(),
        ]
    return [
        structlog.dev.ConsoleRenderer(
            exception_formatter=structlog.dev.RichTracebackFormatter(show_locals=False)
        )
    ]


def configure_logging(
    *,
    fmt: LogFormat = "auto",
    level: str = "info",
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> Redactor:
    """Configure structlog and the stdlib root logger; safe to call again (tests, reloads)."""
    out = stream or sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and not out.isatty())
    redactor = Redactor(secrets)
    numeric_level = logging.getLevelNamesMapping()[level.upper()]
    pre_chain = shared_processors(redactor)
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=pre_chain,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *_renderer(use_json, redactor),
        ],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric_level)
    # apscheduler logs every job it adds, runs and removes at INFO: the watcher alone (every
    # 2 s) would flood the log. Its warnings and errors still come through.
    for noisy in ("httpx", "httpcore", "apscheduler", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(numeric_level, logging.WARNING))
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *pre_chain,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        wrapper_class=structlog.stdlib.BoundLogger,
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
    return redactor


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
