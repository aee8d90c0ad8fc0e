"""Webhook settings: a secret per endpoint from the environment or a file (never the config
file), redacted like tokens; the public URL for a proxy; the route on exactly where a secret is."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from sync_worker.kernel.errors import ConfigError
from sync_worker.runtime.config import load_config
from sync_worker.runtime.wiring import runtime_for
from sync_worker.service.webhooks import WebhookCounters, daemon_routes, webhook_endpoints
from tests.foundation.test_config import MINIMAL, write

WEBHOOK_SECRET = "wh-0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


@pytest.fixture
def tokens(clean_env: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    clean_env.setenv("SYNC_WORKER_ENDPOINTS__P__TOKEN", "pat-na1-11111111-2222")
    clean_env.setenv("SYNC_WORKER_ENDPOINTS__R__TOKEN", "pat-na1-33333333-4444")
    return clean_env


def test_a_webhook_secret_from_the_environment_turns_the_route_on(
    tmp_path: Path, tokens: pytest.MonkeyPatch
) -> None:
    tokens.setenv("SYNC_WORKER_ENDPOINTS__P__WEBHOOK_SECRET", WEBHOOK_SECRET)
    settings = load_config(write(tmp_path, MINIMAL)).settings

    endpoints = webhook_endpoints(settings)

    assert sorted(endpoints) == ["p"]  # r has no secret: its route is off
    assert endpoints["p"].secret.get_secret_value() == WEBHOOK_SECRET
    assert endpoints["p"].roles.partner_of == ("acme",)
    assert WEBHOOK_SECRET in settings.secret_values()  # so the log redactor masks it
    for text in (repr(settings), settings.model_dump_json(), repr(endpoints)):
        assert WEBHOOK_SECRET not in text


def test_a_webhook_secret_from_a_file(tmp_path: Path, tokens: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "r_webhook"
    secret.write_text(WEBHOOK_SECRET + "\n", encoding="utf-8")
    text = MINIMAL.replace("[pairs.acme]", f'webhook_secret_file = "{secret}"\n[pairs.acme]')

    endpoints = webhook_endpoints(load_config(write(tmp_path, text)).settings)

    assert endpoints["r"].secret.get_secret_value() == WEBHOOK_SECRET
    assert endpoints["r"].roles.rep


def test_a_webhook_secret_in_the_config_file_is_refused(
    tmp_path: Path, tokens: pytest.MonkeyPatch
) -> None:
    text = MINIMAL.replace("[endpoints.r]", f'webhook_secret = "{WEBHOOK_SECRET}"\n[endpoints.r]')
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, text))
    (problem,) = error.value.problems
    assert problem.startswith("endpoints.p.webhook_secret: secrets do not belong in the config")
    assert "SYNC_WORKER_ENDPOINTS__P__WEBHOOK_SECRET" in problem
    assert WEBHOOK_SECRET not in str(error.value)


def test_an_unreadable_webhook_secret_file_is_a_problem(
    tmp_path: Path, tokens: pytest.MonkeyPatch
) -> None:
    text = MINIMAL.replace("[endpoints.r]", 'webhook_secret_file = "/nope/secret"\n[endpoints.r]')
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, text))
    assert error.value.problems[0].startswith("endpoints.p.webhook_secret_file: cannot read")
    # check --offline validates without secrets: a secret file CI cannot read is no problem.
    assert load_config(write(tmp_path, text), require_tokens=False).settings


@pytest.mark.parametrize(
    ("url", "kept"),
    [("https://sync.example.com/", "https://sync.example.com"), ("http://h:8080/x", None)],
)
def test_the_public_url(
    tmp_path: Path, tokens: pytest.MonkeyPatch, url: str, kept: str | None
) -> None:
    text = MINIMAL + f'[worker]\nwebhook_public_url = "{url}"\n'
    settings = load_config(write(tmp_path, text)).settings
    assert settings.worker.webhook_public_url == (kept or url)


@pytest.mark.parametrize("url", ["sync.example.com", "https://x.io/?a=1"])
def test_a_public_url_that_is_no_base_is_refused(
    tmp_path: Path, tokens: pytest.MonkeyPatch, url: str
) -> None:
    text = MINIMAL + f'[worker]\nwebhook_public_url = "{url}"\n'
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, text))
    assert error.value.problems[0].startswith("worker.webhook_public_url:")


def test_the_daemon_mounts_the_route_only_where_it_serves_http(
    tmp_path: Path, tokens: pytest.MonkeyPatch
) -> None:
    tokens.setenv("SYNC_WORKER_ENDPOINTS__P__WEBHOOK_SECRET", WEBHOOK_SECRET)
    text = MINIMAL + f'[worker]\nstate_url = "sqlite:///{tmp_path / "state.db"}"\n'
    counters = WebhookCounters(CollectorRegistry())

    with runtime_for(load_config(write(tmp_path, text))) as runtime, capture_logs() as logs:
        unserved = daemon_routes(
            runtime, sink=lambda _: None, wake=lambda _: None, counters=counters, serving=False
        )
        served = daemon_routes(
            runtime, sink=lambda _: None, wake=lambda _: None, counters=counters, serving=True
        )

    assert unserved == []
    assert [getattr(route, "path", None) for route in served] == ["/webhooks/hubspot/{endpoint}"]
    assert [log["event"] for log in logs] == ["webhooks_not_served", "webhooks_served"]
    assert WEBHOOK_SECRET not in repr(logs)
