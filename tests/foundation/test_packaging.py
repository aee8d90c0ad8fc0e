"""`pip install .` must ship the worker, its connectors, the mapping files (a wheel without
mappings is a broken product), the sandbox and the console script, and claim no generic
top-level import name: connectors and mappings install under ``sync_worker``."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

from sync_worker.mappings import builtin_mapping_names
from tests.conftest import REPO_ROOT


def test_the_wheel_carries_packages_mappings_and_the_console_script(tmp_path: Path) -> None:
    source = _copy_sources(tmp_path)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path)]
    subprocess.run([*command, str(source)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("shared_deal_sync-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for mapping in builtin_mapping_names():
        assert f"sync_worker/mappings/{mapping}.toml" in names
    for module in (
        "sync_worker/cli/app.py",
        "sync_worker/cli/config.example.toml",  # what `init` writes and `demo` runs with
        "sync_worker/py.typed",
        "sync_worker/state/sql.py",
        "sync_worker/connectors/base.py",
        "sync_worker/connectors/hubspot/adapter.py",
        "sync_worker/mappings/__init__.py",
        "sync_worker/service/console/templates/base.html",  # the console's pages
        "sync_worker/service/console/templates/pairs.html",
        "sync_worker/service/console/static/console.css",
        "hubspot_sandbox/app.py",
        "hubspot_sandbox/py.typed",
    ):
        assert module in names, module
    top_level = {name.split("/")[0] for name in names if not name.endswith(".dist-info")}
    top_level = {n for n in top_level if not n.endswith(".dist-info")}
    assert top_level == {"sync_worker", "hubspot_sandbox"}
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "sync-worker = sync_worker.cli.app:main" in text


def test_the_default_mapping_is_packaged() -> None:
    assert "hubspot_shared_deals" in builtin_mapping_names()


def _pyproject() -> dict[str, Any]:
    with (REPO_ROOT / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)


def test_the_license_is_an_spdx_string_with_its_file() -> None:
    project = _pyproject()["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    assert "Apache License" in (REPO_ROOT / "LICENSE").read_text(encoding="utf-8")[:200]


def test_developer_tools_and_the_postgres_driver_are_not_base_dependencies() -> None:
    project = _pyproject()["project"]
    base = " ".join(project["dependencies"]).lower()
    assert "psycopg" not in base  # SQLite users do not get a PostgreSQL driver
    assert set(project["optional-dependencies"]) == {"postgres"}
    published = " ".join(
        " ".join(extra) for extra in project["optional-dependencies"].values()
    ).lower()
    for tool in ("mypy", "ruff", "pytest", "hypothesis", "respx"):
        assert tool not in published, tool
    groups = _pyproject()["dependency-groups"]
    assert any("mypy" in str(item) for item in groups["lint"])


def _locked(name: str) -> dict[str, str]:
    """``{package: version}`` of a lock file; every pin carries a hash."""
    text = (REPO_ROOT / "requirements" / name).read_text(encoding="utf-8")
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==([^ ;\\]+)", text, flags=re.MULTILINE))
    blocks = re.split(r"\n(?=[A-Za-z])", text)
    assert all("--hash=sha256:" in block for block in blocks if not block.startswith("#"))
    return {canonical(k): v for k, v in pins.items()}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_locks_pin_every_declared_dependency() -> None:
    pyproject = _pyproject()
    runtime, dev = _locked("runtime.lock"), _locked("dev.lock")
    declared = [*pyproject["project"]["dependencies"], "psycopg", "psycopg-binary"]
    for requirement in declared:
        name = canonical(re.split(r"[<>=\[ ;]", requirement, maxsplit=1)[0])
        assert name in runtime, name
        assert runtime[name] == dev[name], name  # CI tests what the image ships
    for group in ("test", "lint"):
        for requirement in pyproject["dependency-groups"][group]:
            assert canonical(re.split(r"[<>=\[ ;]", requirement, maxsplit=1)[0]) in dev
    build = _locked("build.lock")
    assert "setuptools" in build
    assert pyproject["build-system"]["requires"] == ["setuptools>=77"]
    assert "setuptools>=77" in (REPO_ROOT / "requirements" / "build.in").read_text("utf-8")


def test_the_installed_versions_are_the_locked_ones() -> None:
    dev = _locked("dev.lock")
    for name in ("pydantic", "sqlalchemy", "typer", "pytest", "mypy", "ruff"):
        assert metadata.version(name) == dev[name], name


def test_building_the_wheel_prints_no_warning(tmp_path: Path) -> None:
    source = _copy_sources(tmp_path)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(tmp_path)]
    result = subprocess.run([*command, str(source)], check=True, capture_output=True, text=True)
    output = result.stdout + result.stderr
    assert "Deprecat" not in output
    assert "SetuptoolsWarning" not in output
    (wheel,) = tmp_path.glob("shared_deal_sync-*.whl")
    meta = zipfile.ZipFile(wheel).read(f"{wheel.name.split('-')[0]}-0.1.0.dist-info/METADATA")
    assert b"License-Expression: Apache-2.0" in meta


def _copy_sources(tmp_path: Path) -> Path:
    source = tmp_path / "src"  # setuptools writes build/ beside the sources: keep it out of ours
    source.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO_ROOT / name, source / name)
    for package in ("sync_worker", "connectors", "mappings", "hubspot_sandbox"):
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(REPO_ROOT / package, source / package, ignore=ignore, symlinks=True)
    return source


def test_make_rebuilds_a_venv_made_by_another_python(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    impostor = venv / "bin" / "python"  # answers like an interpreter that is not $(PYTHON)
    impostor.write_text("#!/bin/sh\necho /opt/other-python 3 9 1\n", encoding="utf-8")
    impostor.chmod(0o755)
    (venv / ".installed-stamp").touch()
    make = ["make", "-n", "-C", str(REPO_ROOT), f"VENV={venv}", f"PYTHON={sys.executable}"]
    planned = subprocess.run([*make, "install"], capture_output=True, text=True, check=True)
    assert f"rm -rf {venv}" in planned.stdout
    real = subprocess.run([*make, "install"], capture_output=True, text=True, check=True)
    assert real.stdout == planned.stdout


def test_sqlite_users_need_no_postgres_driver() -> None:
    code = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from sync_worker.state import open_store\n"
        "import sync_worker.runtime.wiring, sync_worker.cli.app\n"
        "from sync_worker.kernel.errors import ConfigError\n"
        "try:\n    open_store('postgresql://app@db/sync')\n"
        "except ConfigError as error:\n    print(error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'shared-deal-sync[postgres]'" in result.stdout
