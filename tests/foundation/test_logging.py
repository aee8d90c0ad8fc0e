"""Logs are JSON events with context, and a token never appears in them, tracebacks included."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable

import structlog
from structlog.testing import capture_logs

from sync_worker.runtime.logging import REDACTED, Redactor, configure_logging, get_logger

TOKEN = "pat-na1-0a1b2c3d-4e5f-6789-abcd-ef0123456789"


def render(secrets: list[str], emit: Callable[[], None]) -> list[dict[str, object]]:
    stream = io.StringIO()
    configure_logging(fmt="json", level="debug", secrets=secrets, stream=stream)
    try:
        emit()
    finally:
        structlog.contextvars.clear_contextvars()
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_with_level_utc_timestamp_and_context() -> None:
    def emit() -> None:
        structlog.contextvars.bind_contextvars(pair="agency-001", run_id="r-1")
        get_logger("test").info("cycle_done", pulled=3)

    (event,) = render([], emit)
    assert event["event"] == "cycle_done"
    assert event["level"] == "info"
    assert event["pair"] == "agency-001"
    assert event["run_id"] == "r-1"
    assert event["pulled"] == 3
    assert str(event["timestamp"]).endswith("Z")


def test_sensitive_keys_values_and_known_secrets_are_redacted() -> None:
    def emit() -> None:
        get_logger("test").info(
            "request",
            headers={"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"},
            token=TOKEN,
            note=f"the token is {TOKEN} ok",
            url="https://x.example/?token=abc123def",
            nested=[{"refresh_token": "r-secret-value"}],
            custom="my-own-secret-value",
        )

    (event,) = render(["my-own-secret-value"], emit)
    text = json.dumps(event)
    assert TOKEN not in text
    assert "r-secret-value" not in text
    assert "abc123def" not in text
    assert "my-own-secret-value" not in text
    assert event["headers"] == {"Authorization": REDACTED, "Accept": "application/json"}
    assert event["note"] == f"the token is {REDACTED} ok"


def test_tracebacks_carry_no_locals_and_no_secret() -> None:
    def failing(token: str) -> None:
        secret_local = token  # noqa: F841 - the point: a local holding a secret
        raise RuntimeError("boom")

    def emit() -> None:
        try:
            failing(TOKEN)
        except RuntimeError:
            get_logger("test").exception("cycle_failed")

    (event,) = render([TOKEN], emit)
    text = json.dumps(event)
    assert "boom" in text
    assert TOKEN not in text
    assert "secret_local" not in text


def test_stdlib_loggers_go_through_the_same_pipeline() -> None:
    def emit() -> None:
        logging.getLogger("apscheduler.scheduler").warning("token=%s leaked?", TOKEN)

    (event,) = render([], emit)
    assert event["logger"] == "apscheduler.scheduler"
    assert TOKEN not in json.dumps(event)


def test_the_schedulers_job_chatter_stays_out_and_its_warnings_come_through() -> None:
    """apscheduler logs each job run at INFO; the daemon's watcher runs every 2 s."""

    def emit() -> None:
        for name in ("apscheduler.scheduler", "apscheduler.executors.watch"):
            logging.getLogger(name).info('Running job "watch"')
        logging.getLogger("apscheduler.executors.default").warning("Run time of job was missed")

    events = render([], emit)
    assert [e["event"] for e in events] == ["Run time of job was missed"]


def test_capture_logs_sees_events_for_assertions() -> None:
    with capture_logs() as logs:
        get_logger("test").warning("pair_stopped", pair="p", reason="auth")
    assert logs == [
        {"event": "pair_stopped", "pair": "p", "reason": "auth", "log_level": "warning"}
    ]


def test_redactor_leaves_ordinary_values_alone() -> None:
    redactor = Redactor(["abcd1234"])
    event = redactor(None, "info", {"event": "x", "count": 3, "ids": ("1", "abcd1234")})
    assert event == {"event": "x", "count": 3, "ids": ("1", REDACTED)}
