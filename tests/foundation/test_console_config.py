"""``[console]``: off by default, bound to 127.0.0.1; its passwords are secrets (environment or
a secrets file, never the config file), checked before the daemon starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync_worker.runtime.config import load_config
from sync_worker.runtime.console_settings import ConsoleRole
from tests.foundation.test_config import MINIMAL, problems_of, tokens, write

__all__ = ["tokens"]  # the fixture, imported for these tests

ON = MINIMAL + "[console]\nenabled = true\n"
STRONG = "a-long-enough-passphrase"


def test_the_console_is_off_and_local_by_default(
    tmp_path: Path, tokens: pytest.MonkeyPatch
) -> None:
    loaded = load_config(write(tmp_path, MINIMAL))
    console = loaded.settings.console
    assert (console.enabled, console.host, console.port) == (False, "127.0.0.1", 9465)
    assert loaded.console_users == ()


def test_passwords_come_from_the_environment(tmp_path: Path, tokens: pytest.MonkeyPatch) -> None:
    tokens.setenv("SYNC_WORKER_CONSOLE__VIEWER_PASSWORD", "viewer-" + STRONG)
    tokens.setenv("SYNC_WORKER_CONSOLE__OPERATOR_PASSWORD", "operator-" + STRONG)
    loaded = load_config(write(tmp_path, ON))
    assert [(u.name, u.role) for u in loaded.console_users] == [
        ("viewer", ConsoleRole.VIEWER),
        ("operator", ConsoleRole.OPERATOR),
    ]
    assert "operator-" + STRONG in loaded.secret_values()
    assert STRONG not in repr(loaded)
    assert STRONG not in str(loaded.settings.model_dump())


def test_named_people_come_from_a_secrets_file(tmp_path: Path, tokens: pytest.MonkeyPatch) -> None:
    users = tmp_path / "users"
    users.write_text(f"# who\nada:operator:{STRONG}:with:colons\n\ngrace:viewer:{STRONG}\n")
    loaded = load_config(write(tmp_path, ON + f'users_file = "{users}"\n'))
    ada, grace = loaded.console_users
    assert (ada.name, ada.role, ada.password.get_secret_value()) == (
        "ada",
        ConsoleRole.OPERATOR,
        f"{STRONG}:with:colons",
    )
    assert (grace.name, grace.role) == ("grace", ConsoleRole.VIEWER)
    assert f"{STRONG}:with:colons" in loaded.secret_values()


@pytest.mark.parametrize("key", ["viewer_password", "operator_password", "session_secret"])
def test_a_console_secret_in_the_config_file_is_refused(
    tmp_path: Path, tokens: pytest.MonkeyPatch, key: str
) -> None:
    problems = problems_of(write(tmp_path, ON + f'{key} = "{STRONG}{STRONG}"\n'))
    assert any(
        p.startswith(
            f"console.{key}: secrets do not belong in the config file; set "
            f"SYNC_WORKER_CONSOLE__{key.upper()}"
        )
        for p in problems
    ), problems
    assert not any(STRONG in p for p in problems)


def test_an_enabled_console_nobody_can_sign_in_to_is_an_error(
    tmp_path: Path, tokens: pytest.MonkeyPatch
) -> None:
    [problem] = problems_of(write(tmp_path, ON))
    assert problem.startswith("console.enabled: nobody can sign in; set ")


def test_weak_passwords_bad_lines_and_short_secrets_are_refused(
    tmp_path: Path, tokens: pytest.MonkeyPatch
) -> None:
    users = tmp_path / "users"
    users.write_text(f"ada:admin:{STRONG}\nbad name:viewer:{STRONG}\ngrace:viewer:short\n")
    tokens.setenv("SYNC_WORKER_CONSOLE__SESSION_SECRET", "too-short")
    problems = problems_of(write(tmp_path, ON + f'users_file = "{users}"\n'))
    assert f"console.users_file: {users} line 1: role must be one of viewer, operator" in problems
    assert any(p.startswith(f"console.users_file: {users} line 2: expected") for p in problems)
    assert "console: the password of 'grace' is shorter than 12 characters" in problems
    assert any(p.startswith("console.session_secret: at least 32 characters") for p in problems)
    assert not any(STRONG in p or "short\n" in p for p in problems)


def test_a_missing_users_file_is_one_line(tmp_path: Path, tokens: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nope"
    problems = problems_of(write(tmp_path, ON + f'users_file = "{missing}"\n'))
    assert f"console.users_file: cannot read {missing}: No such file or directory" in problems


def test_a_typo_in_a_console_variable_names_the_right_one(
    tmp_path: Path, tokens: pytest.MonkeyPatch
) -> None:
    tokens.setenv("SYNC_WORKER_CONSOLE__OPERATOR_PASWORD", STRONG)
    problems = problems_of(write(tmp_path, MINIMAL))
    assert any("did you mean SYNC_WORKER_CONSOLE__OPERATOR_PASSWORD" in p for p in problems)
