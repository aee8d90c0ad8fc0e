"""`make demo` must keep working: the scripted story runs to the end and shows why."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import free_port
from tests.conftest import EXAMPLE_CONFIG


def demo_config(tmp_path: Path, port: int) -> Path:
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    text = text.replace("127.0.0.1:8765", f"127.0.0.1:{port}")
    text = text.replace("sqlite:///demo-state/state.db", f"sqlite:///{tmp_path / 'demo.db'}")
    path = tmp_path / "demo.toml"
    path.write_text(text, encoding="utf-8")
    return path


def run_demo(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sync_worker", "demo", "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200"},
    )


def test_the_demo_tells_the_whole_story(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    result = run_demo(demo_config(tmp_path, free_port()))
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for text in (
        "1. first sync",
        "conflicting amount edits (newest wins): what synced and why",
        "deal team: a collaborator added on each side: what synced and why",
        "hs_all_collaborator_owner_ids",
        "deal team: the partner adds its own",
        "deal team: the rep adds its own",
        "new referral on the rep side",
        "referred_deals",
        "sync-worker explain",
        "6. idle again",
        "7. webhooks: the daemon hears of an edit at once",
        "s later (the next poll: a minute away)",
        "demo finished",
    ):
        assert text in out, text
    assert "owned_set_edit_reverted" in result.stderr
    assert "demo-partner-token" not in out + result.stderr
    assert "demo-partner-app-secret" not in out + result.stderr  # the webhook secret


def test_the_demo_names_a_busy_port(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    port = free_port()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        result = run_demo(demo_config(tmp_path, port))
    assert result.returncode == 2
    assert f"cannot serve the sandbox on 127.0.0.1:{port}" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_keep_open_leaves_the_console_up_until_interrupted(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    import re
    import signal

    import httpx

    config = demo_config(tmp_path, free_port())
    console_port = free_port()
    text = config.read_text(encoding="utf-8").replace("port = 9465", f"port = {console_port}")
    config.write_text(text.replace("metrics_port = 9464", "metrics_port = 0"), encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "sync_worker", "demo", "--keep-open", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200", "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if "web console:" in line:
                break
        found = re.search(
            r"web console: (http://\S+) \(sign in as operator, password (\S+)\)", line
        )
        assert found is not None, "".join(lines)
        url, password = found.groups()
        assert url == f"http://127.0.0.1:{console_port}/"
        page = httpx.get(url + "login", timeout=5)
        assert page.status_code == 200
        assert "Sign in" in page.text
        assert password not in page.text
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
