"""Config loading: the example file, env overrides, secrets, and every kind of bad file."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync_worker.kernel.errors import ConfigError
from sync_worker.runtime.config import load_config
from tests.conftest import EXAMPLE_CONFIG

MINIMAL = """
[endpoints.p]
base_url = "https://api.hubapi.com"
[endpoints.r]
base_url = "https://api.hubapi.com"
[pairs.acme]
partner = "p"
rep = "r"
partner_account = "acme"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def has(problems: list[str], prefix: str) -> bool:
    return any(p.startswith(prefix) for p in problems)


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value.problems


@pytest.fixture
def tokens(clean_env: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    clean_env.setenv("SYNC_WORKER_ENDPOINTS__P__TOKEN", "pat-na1-11111111-2222")
    clean_env.setenv("SYNC_WORKER_ENDPOINTS__R__TOKEN", "pat-na1-33333333-4444")
    return clean_env


def test_example_config_loads_with_every_key(demo_env: pytest.MonkeyPatch) -> None:
    loaded = load_config(EXAMPLE_CONFIG)
    settings = loaded.settings
    assert settings.worker.state_url == "sqlite:///demo-state/state.db"
    assert set(settings.endpoints) == {"partner", "rep"}
    assert settings.endpoints["rep"].token is not None
    assert settings.endpoints["rep"].token.get_secret_value() == "demo-rep-token"
    assert settings.pairs["agency-001"].partner_account == "agency-001"
    assert loaded.mapping_paths["agency-001"].name == "hubspot_shared_deals.toml"
    assert loaded.mapping_paths["agency-001"].is_file()


def test_env_overrides_single_nested_keys_and_keeps_the_rest(
    tmp_path: Path, tokens: pytest.MonkeyPatch
) -> None:
    tokens.setenv("SYNC_WORKER_WORKER__LOG_LEVEL", "debug")
    tokens.setenv("SYNC_WORKER_PAIRS__ACME__INTERVAL_SECONDS", "42")
    settings = load_config(write(tmp_path, MINIMAL)).settings
    assert settings.worker.log_level == "debug"
    assert settings.pairs["acme"].interval_seconds == 42
    assert settings.pairs["acme"].partner == "p"  # deep-merged with the file


def test_config_path_from_environment(tmp_path: Path, tokens: pytest.MonkeyPatch) -> None:
    tokens.setenv("SYNC_WORKER_CONFIG", str(write(tmp_path, MINIMAL)))
    assert load_config(None).path == tmp_path / "config.toml"


def test_token_from_secrets_file(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "p_token"
    secret.write_text("pat-na1-from-file\n", encoding="utf-8")
    clean_env.setenv("SYNC_WORKER_ENDPOINTS__R__TOKEN", "x-rep-token")
    text = MINIMAL.replace("[endpoints.r]", f'token_file = "{secret}"\n[endpoints.r]', 1)
    settings = load_config(write(tmp_path, text)).settings
    token = settings.endpoints["p"].token
    assert token is not None
    assert token.get_secret_value() == "pat-na1-from-file"


def test_secrets_never_in_repr_or_dump(tmp_path: Path, tokens: pytest.MonkeyPatch) -> None:
    settings = load_config(write(tmp_path, MINIMAL)).settings
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert "pat-na1-11111111-2222" not in text


def test_missing_file(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    problems = problems_of(tmp_path / "nope.toml")
    assert "config file not found" in problems[0]


def test_invalid_toml_names_the_line(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    problems = problems_of(write(tmp_path, "[worker]\nlog_level = \n"))
    assert "invalid TOML" in problems[0]
    assert "line 2" in problems[0]


def test_unknown_key_lists_valid_keys(tmp_path: Path, tokens: pytest.MonkeyPatch) -> None:
    problems = problems_of(write(tmp_path, MINIMAL + "[worker]\nlog_levle = 'info'\n"))
    expected = (
        "worker.log_levle: unknown key; valid keys here: dead_letter_max_attempts, "
        "history_days, interval_seconds, jitter_seconds, lease_ttl_seconds, log_format, log_level, "
        "max_parallel_pairs, metrics_host, metrics_port, state_url, stop_grace_seconds, "
        "unhealthy_after_failures, webhook_max_body_bytes, webhook_public_url"
    )
    assert problems == [expected]


def test_unknown_key_inside_a_named_table(tmp_path: Path, tokens: pytest.MonkeyPatch) -> None:
    problems = problems_of(write(tmp_path, MINIMAL.replace('rep = "r"', 'rep = "r"\nrepp = 1')))
    assert problems[0].startswith("pairs.acme.repp: unknown key; valid keys here: enabled,")


def test_bad_choice_names_the_allowed_values(tmp_path: Path, tokens: pytest.MonkeyPatch) -> None:
    text = MINIMAL.replace("[endpoints.r]", 'rate_limit_tier = "gold"\n[endpoints.r]')
    (problem,) = problems_of(write(tmp_path, text))
    assert problem.startswith("endpoints.p.rate_limit_tier: Input should be 'free', 'starter'")
    assert "(got 'gold')" in problem


def test_out_of_range_and_wrong_type(tmp_path: Path, tokens: pytest.MonkeyPatch) -> None:
    text = MINIMAL + "[worker]\ninterval_seconds = 1\nmax_parallel_pairs = 'many'\n"
    problems = problems_of(write(tmp_path, text))
    assert any(
        p.startswith("worker.interval_seconds: Input should be greater than") for p in problems
    )
    assert any(
        p.startswith("worker.max_parallel_pairs: Input should be a valid integer") for p in problems
    )


def test_token_in_file_is_refused(tmp_path: Path, tokens: pytest.MonkeyPatch) -> None:
    text = MINIMAL.replace("[endpoints.r]", 'token = "pat-na1-leak"\n[endpoints.r]')
    problems = problems_of(write(tmp_path, text))
    assert any("secrets do not belong in the config file" in p for p in problems)
    assert not any("pat-na1-leak" in p for p in problems)


def test_missing_token_names_the_variable(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("SYNC_WORKER_ENDPOINTS__P__TOKEN", "x-partner-token")
    problems = problems_of(write(tmp_path, MINIMAL))
    assert problems == [
        "endpoints.r: no token; set SYNC_WORKER_ENDPOINTS__R__TOKEN or endpoints.r.token_file"
    ]


def test_pair_with_unknown_endpoint_and_mapping(tmp_path: Path, tokens: pytest.MonkeyPatch) -> None:
    text = MINIMAL.replace('rep = "r"', 'rep = "nope"\nmapping = "missing.toml"')
    problems = problems_of(write(tmp_path, text))
    assert "pairs.acme.rep: unknown endpoint 'nope'; defined endpoints: p, r" in problems
    assert any(
        p.startswith("pairs.acme.mapping: 'missing.toml' is neither a file") for p in problems
    )


def test_bad_state_url_and_base_url(tmp_path: Path, tokens: pytest.MonkeyPatch) -> None:
    text = MINIMAL.replace(
        '[endpoints.p]\nbase_url = "https://api.hubapi.com"', '[endpoints.p]\nbase_url = "ftp://x"'
    )
    text += '[worker]\nstate_url = "mysql://x"\n'
    problems = problems_of(write(tmp_path, text))
    assert has(problems, "endpoints.p.base_url: Value error, must be an http")
    assert any(
        p.startswith("worker.state_url: Value error, must start with sqlite") for p in problems
    )


def test_no_enabled_pair(tmp_path: Path, tokens: pytest.MonkeyPatch) -> None:
    problems = problems_of(write(tmp_path, MINIMAL + "enabled = false\n"))
    assert problems == ["pairs: no enabled pair; define at least one [pairs.NAME] table"]


def test_invalid_names(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("SYNC_WORKER_ENDPOINTS__P__TOKEN", "x-partner-token")
    clean_env.setenv("SYNC_WORKER_ENDPOINTS__R__TOKEN", "x-rep-token")
    problems = problems_of(write(tmp_path, MINIMAL.replace("[pairs.acme]", '[pairs."Ac Me"]')))
    assert has(problems, "pairs.Ac Me: invalid name")


def test_account_time_zone_is_validated(tmp_path: Path, tokens: pytest.MonkeyPatch) -> None:
    text = MINIMAL.replace("[endpoints.r]", 'account_timezone = "Mars/Olympus"\n[endpoints.r]')
    (problem,) = problems_of(write(tmp_path, text))
    assert problem.startswith(
        "endpoints.p.account_timezone: Value error, must be an IANA time zone"
    )
    good = MINIMAL.replace("[endpoints.r]", 'account_timezone = "Europe/Paris"\n[endpoints.r]')
    assert (
        load_config(write(tmp_path, good)).settings.endpoints["p"].account_timezone
        == "Europe/Paris"
    )


def test_a_password_in_the_state_url_is_a_secret(
    tmp_path: Path, tokens: pytest.MonkeyPatch
) -> None:
    text = MINIMAL + '[worker]\nstate_url = "postgresql://sync:p%40ss-w0rd@db:5432/state"\n'
    settings = load_config(write(tmp_path, text)).settings
    assert "p@ss-w0rd" in settings.secret_values()
    assert "p%40ss-w0rd" in settings.secret_values()


@pytest.mark.parametrize("where", ["file", "env"])
def test_a_rejected_state_url_never_shows_its_password(
    tmp_path: Path, tokens: pytest.MonkeyPatch, where: str
) -> None:
    url = "mysql://sync:S3cret@pw/x@db.internal:3306/sync"
    if where == "file":
        path = write(tmp_path, f'[worker]\nstate_url = "{url}"\n' + MINIMAL)
    else:
        tokens.setenv("SYNC_WORKER_WORKER__STATE_URL", url)
        path = write(tmp_path, MINIMAL)
    [problem] = problems_of(path)
    assert problem.startswith("worker.state_url: ")
    assert "mysql://sync:***@db.internal:3306/sync" in problem  # still says what was wrong
    assert "S3cret" not in problem


def test_postgres_scheme_is_a_postgresql_url(tmp_path: Path, tokens: pytest.MonkeyPatch) -> None:
    url = "postgres://sync@db.internal:5432/sync"
    path = write(tmp_path, f'[worker]\nstate_url = "{url}"\n' + MINIMAL)
    assert load_config(path).settings.worker.state_url == url


HYPHENATED = """
[endpoints.partner-eu]
base_url = "https://api.hubapi.com"
[endpoints.rep]
base_url = "https://api.hubapi.com"
[pairs.agency-001]
partner = "partner-eu"
rep = "rep"
partner_account = "agency-001"
[pairs.agency-002]
partner = "partner-eu"
rep = "rep"
partner_account = "agency-002"
"""


def test_env_reaches_hyphenated_names_through_underscores(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    """Shells cannot export a '-' in a variable name: AGENCY_001 must mean [pairs.agency-001],
    not define a new, incomplete pair."""
    clean_env.setenv("SYNC_WORKER_ENDPOINTS__PARTNER_EU__TOKEN", "pat-na1-eu-0000")
    clean_env.setenv("SYNC_WORKER_ENDPOINTS__REP__TOKEN", "pat-na1-rep-0000")
    clean_env.setenv("SYNC_WORKER_PAIRS__AGENCY_001__ENABLED", "false")
    settings = load_config(write(tmp_path, HYPHENATED)).settings
    assert set(settings.pairs) == {"agency-001", "agency-002"}
    assert settings.pairs["agency-001"].enabled is False
    assert set(settings.enabled_pairs()) == {"agency-002"}
    token = settings.endpoints["partner-eu"].token
    assert token is not None
    assert token.get_secret_value() == "pat-na1-eu-0000"


def test_a_missing_token_names_a_variable_a_shell_can_export(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("SYNC_WORKER_ENDPOINTS__REP__TOKEN", "pat-na1-rep-0000")
    problems = problems_of(write(tmp_path, HYPHENATED))
    expected = (
        "endpoints.partner-eu: no token; set SYNC_WORKER_ENDPOINTS__PARTNER_EU__TOKEN "
        "or endpoints.partner-eu.token_file"
    )
    assert problems == [expected]
