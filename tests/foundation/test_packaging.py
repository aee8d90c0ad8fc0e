"""`pip install .` must ship the worker, its connectors, the mapping files (a wheel without
mappings is a broken product), the sandbox and the console script, and claim no generic
top-level import name: connectors and mappings install under ``sync_worker``."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from sync_worker.mappings import builtin_mapping_names
from tests.conftest import REPO_ROOT


def test_the_wheel_carries_packages_mappings_and_the_console_script(tmp_path: Path) -> None:
    source = tmp_path / "src"  # setuptools writes build/ beside the sources: keep it out of ours
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, source / name)
    for package in ("sync_worker", "connectors", "mappings", "hubspot_sandbox"):
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(REPO_ROOT / package, source / package, ignore=ignore, symlinks=True)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path)]
    subprocess.run([*command, str(source)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("shared_deal_sync-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for mapping in builtin_mapping_names():
        assert f"sync_worker/mappings/{mapping}.toml" in names
    for module in (
        "sync_worker/cli/app.py",
        "sync_worker/py.typed",
        "sync_worker/state/sql.py",
        "sync_worker/connectors/base.py",
        "sync_worker/connectors/hubspot/adapter.py",
        "sync_worker/mappings/__init__.py",
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
