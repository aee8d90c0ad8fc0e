"""`pip install .` must ship both packages and the mapping files (a wheel without mappings/ is a
broken product), plus the console script."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from mappings import builtin_mapping_names
from tests.conftest import REPO_ROOT


def test_the_wheel_carries_packages_mappings_and_the_console_script(tmp_path: Path) -> None:
    source = tmp_path / "src"  # setuptools writes build/ beside the sources: keep it out of ours
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, source / name)
    for package in ("sync_worker", "connectors", "mappings"):
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(REPO_ROOT / package, source / package, ignore=ignore)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path)]
    subprocess.run([*command, str(source)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("shared_deal_sync-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for mapping in builtin_mapping_names():
        assert f"mappings/{mapping}.toml" in names
    for module in (
        "sync_worker/cli.py",
        "sync_worker/py.typed",
        "sync_worker/sandbox/app.py",
        "sync_worker/state/sql.py",
        "connectors/base.py",
        "connectors/hubspot/adapter.py",
        "mappings/__init__.py",
    ):
        assert module in names, module
    assert not any(name.startswith("tests/") for name in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "sync-worker = sync_worker.cli:main" in text


def test_the_default_mapping_is_packaged() -> None:
    assert "hubspot_shared_deals" in builtin_mapping_names()
