"""Shared fixtures for the whole suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = REPO_ROOT / "config.example.toml"
DEMO_TOKENS = {
    "SYNC_WORKER_ENDPOINTS__PARTNER__TOKEN": "demo-partner-token",
    "SYNC_WORKER_ENDPOINTS__REP__TOKEN": "demo-rep-token",
}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No SYNC_WORKER_* variables from the caller's shell leak into a test."""
    for name in list(os.environ):
        if name.startswith("SYNC_WORKER_") and name != "SYNC_WORKER_TEST_PG_URL":
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.fixture
def demo_env(clean_env: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The demo tokens in the environment, as `make demo` provides them."""
    for name, value in DEMO_TOKENS.items():
        clean_env.setenv(name, value)
    return clean_env
