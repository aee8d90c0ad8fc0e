"""``python -m hubspot_sandbox``: the blocking entry the CLI and benchmarks use."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import httpx

from tests.sandbox.conftest import DEALS


def test_module_entry_serves_the_seeded_demo_portals() -> None:
    command = [sys.executable, "-m", "hubspot_sandbox", "--port", "0", "--deals", "20"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]
        try:
            assert lines[0].startswith("HubSpot sandbox serving:")
            urls = dict(re.findall(r"(\w+): (http://\S+)\s+token=", "".join(lines)))
            assert set(urls) == {"partner", "rep"}
            assert "token=demo-partner-token" in lines[1]
            response = httpx.get(
                urls["rep"] + DEALS, headers={"Authorization": "Bearer demo-rep-token"}
            )
            assert response.status_code == 200
            assert len(response.json()["results"]) == 10
            assert response.headers["X-HubSpot-RateLimit-Max"] == "100"
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=10)
    assert process.returncode == 0
