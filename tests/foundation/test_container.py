"""The image and the compose stack, read (CI has no Docker engine; the README lists the checks
to run where one is): a digest-pinned base, a lock-installed venv copied from the build stage
(no wheels kept, no pip in the runtime stage), tini as PID 1, a cheap health check that never
exits 2, OCI labels, a .dockerignore admitting only what is copied, a three-service compose."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sync_worker.cli.app import app
from sync_worker.runtime.config import load_config
from tests.cli.conftest import free_port
from tests.conftest import REPO_ROOT

DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8")
BUILD, RUNTIME = re.split(r"^FROM [^\n]*\n", DOCKERFILE, flags=re.MULTILINE)[1:]


def test_the_base_image_is_pinned_by_digest() -> None:
    (image,) = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE, flags=re.MULTILINE)
    assert re.fullmatch(r"python:3\.11-slim-bookworm@sha256:[0-9a-f]{64}", image)
    froms = re.findall(r"^FROM (\S+)", DOCKERFILE, flags=re.MULTILINE)
    assert froms == ["${PYTHON_IMAGE}", "${PYTHON_IMAGE}"]
    assert "docker buildx imagetools inspect" in DOCKERFILE  # how to refresh it


def test_dependencies_come_from_the_lock_in_the_build_stage_only() -> None:
    assert "--require-hashes" in BUILD
    assert "requirements/runtime.lock" in BUILD
    assert "--no-deps" in BUILD
    assert "pip wheel" not in DOCKERFILE
    assert "pip install" not in RUNTIME  # nothing resolved or downloaded there
    assert "/wheels" not in DOCKERFILE
    assert "COPY --from=build /opt/sync-worker /opt/sync-worker" in RUNTIME


def test_tini_is_pid_1_and_the_worker_runs_unprivileged() -> None:
    assert re.search(r"apt-get install [^\n]*tini", RUNTIME)
    assert 'ENTRYPOINT ["tini", "--", "sync-worker"]' in RUNTIME
    assert "USER sync" in RUNTIME


def test_oci_labels() -> None:
    for label in ("title", "description", "licenses", "version", "revision", "created"):
        assert f"org.opencontainers.image.{label}=" in RUNTIME, label


def test_the_health_check_is_the_cheap_command() -> None:
    assert 'CMD ["sync-worker", "health"]' in RUNTIME


@pytest.mark.parametrize("config_text", [None, b"\xff\xfe not toml", b"[worker]\nmetrics_port = 1"])
def test_health_never_exits_2(
    tmp_path: Path, clean_env: pytest.MonkeyPatch, config_text: bytes | None
) -> None:
    """Exit 2 is reserved by Docker: an unreadable config or a dead daemon is 1 (unhealthy)."""
    config = tmp_path / "config.toml"
    if config_text is not None:
        config.write_bytes(config_text)
    clean_env.setenv("SYNC_WORKER_CONFIG", str(config))
    clean_env.setenv("SYNC_WORKER_WORKER__METRICS_PORT", str(free_port()))
    result = CliRunner().invoke(app, ["health"])
    assert result.exit_code == 1, result.output
    assert "unhealthy" in result.stderr
    assert "Traceback" not in result.output


def _ignore_rules() -> list[str]:
    text = (REPO_ROOT / ".dockerignore").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def _admitted(path: str, rules: list[str]) -> bool:
    """Docker's rule: the last matching line wins; ``!`` admits; a directory admits below."""
    admitted = True
    for rule in rules:
        negate = rule.startswith("!")
        pattern = rule.removeprefix("!").rstrip("/")
        if fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/"):
            admitted = negate
    return admitted


def test_the_dockerignore_admits_only_what_the_image_copies() -> None:
    rules = _ignore_rules()
    assert rules[0] == "*"
    copied = [
        source
        for line in re.findall(r"^COPY (?!--from)(.+)$", DOCKERFILE, flags=re.MULTILINE)
        for source in line.split()[:-1]
    ]
    for source in copied:
        assert _admitted(source, rules), source
    for private in (".git/config", ".venv/bin/python", "tests/conftest.py", "state.db", ".ci/run"):
        assert not _admitted(private, rules), private
    assert not _admitted("sync_worker/__pycache__/x.pyc", rules)


def test_compose_runs_the_worker_postgres_and_the_sandbox(clean_env: pytest.MonkeyPatch) -> None:
    compose = (REPO_ROOT / "compose.yaml").read_text(encoding="utf-8")
    services = re.findall(r"^  ([a-z-]+):$", compose.split("\nservices:\n", 1)[1], re.MULTILINE)
    assert set(services) >= {"worker", "postgres", "sandbox"}
    assert "condition: service_healthy" in compose
    mounted = re.search(r"\./(deploy/[\w.]+):/etc/sync-worker/config.toml", compose)
    assert mounted is not None
    loaded = load_config(REPO_ROOT / mounted.group(1), require_tokens=False)
    assert loaded.settings.worker.state_url.startswith("postgresql://")
    assert {e.base_url for e in loaded.settings.endpoints.values()} == {
        "http://sandbox:8765/partner",
        "http://sandbox:8765/rep",
    }
