"""The wheel alone is enough: installed in a fresh venv outside the repository, with only the
runtime dependencies (no PostgreSQL driver, no repository files), `sync-worker init` and
`sync-worker demo` work in an empty directory.

Offline and fast: the fresh venv sees the runtime dependencies already installed here through
a directory of links to exactly those distributions (named by requirements/runtime.lock, minus
the postgres extra), not this environment's site-packages."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from tests.cli.conftest import free_port
from tests.conftest import REPO_ROOT

POSTGRES_EXTRA = {"psycopg", "psycopg-binary"}


def _runtime_distributions() -> list[str]:
    text = (REPO_ROOT / "requirements" / "runtime.lock").read_text(encoding="utf-8")
    names = re.findall(r"^([A-Za-z0-9_.-]+)==[^;\n]+?(?: ;(.*?))? \\$", text, flags=re.MULTILINE)
    wanted = []
    for name, marker in names:
        if name.lower() in POSTGRES_EXTRA or "win32" in marker:
            continue
        wanted.append(name)
    return wanted


def _link_dependencies(target: Path) -> None:
    target.mkdir()
    for name in _runtime_distributions():
        dist = metadata.distribution(name)
        tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        for top in tops:
            source = Path(str(dist.locate_file(top)))
            link = target / top
            if source.exists() and not link.exists() and not top.endswith(".pth"):
                link.symlink_to(source)


def _build_wheel(tmp_path: Path) -> Path:
    from tests.foundation.test_packaging import _copy_sources

    source = _copy_sources(tmp_path)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path)]
    subprocess.run([*command, str(source)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("shared_deal_sync-*.whl")
    return wheel


@pytest.mark.slow
def test_init_and_demo_from_the_wheel_alone(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path / "build")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    deps = tmp_path / "deps"
    _link_dependencies(deps)
    (site,) = venv.glob("lib/python3*/site-packages")
    (site / "runtime_deps.pth").write_text(f"{deps}\n", encoding="utf-8")
    python = venv / "bin" / "python"
    install = [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
    subprocess.run([*install, str(wheel)], check=True, capture_output=True)
    home = tmp_path / "empty"
    home.mkdir()
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(home), "COLUMNS": "100"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args, cwd=home, env=env, capture_output=True, text=True, check=False, timeout=240
        )

    assert run(str(python), "-c", "import psycopg").returncode != 0  # an honest environment
    checked = run(str(python), "-m", "pip", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    sync_worker = shutil.which("sync-worker", path=str(venv / "bin"))
    assert sync_worker is not None
    init = run(sync_worker, "init")
    assert init.returncode == 0, init.stderr
    assert (home / "config.toml").is_file()
    # The demo serves the sandbox on the example's port; make it a free one for this run.
    config = home / "config.toml"
    port = free_port()
    text = config.read_text(encoding="utf-8").replace("127.0.0.1:8765", f"127.0.0.1:{port}")
    text = text.replace("sqlite:///demo-state/state.db", "sqlite:///chosen/state.db")
    config.write_text(text, encoding="utf-8")
    env["SYNC_WORKER_CONFIG"] = str(config)  # the demo honours it (see the state file below)
    demo = run(sync_worker, "demo")
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert "demo finished" in demo.stdout
    assert max(len(line) for line in demo.stdout.splitlines()) <= 100
    assert "…" not in demo.stdout  # no cell cut short
    assert (home / "chosen" / "state.db").is_file()
    assert {p.name for p in home.iterdir()} == {"config.toml", "chosen"}
