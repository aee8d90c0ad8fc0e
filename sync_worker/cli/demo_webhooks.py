"""The demo's last step: the daemon with HubSpot webhooks, an edit crossing in about a second.

The sandbox portals deliver signed webhooks to the daemon's route (each with its app's client
secret, the demo's own), a person edits a deal in the partner portal, and the demo waits until
the rep's counterpart holds the edit. The pair's next poll is a minute away: the webhook, not
polling, brought it across.
"""

from __future__ import annotations

import os
import socket
import time

from rich.console import Console

from hubspot_sandbox import Sandbox, WebhookSpec
from sync_worker.runtime.wiring import Runtime
from sync_worker.service.daemon import Daemon
from sync_worker.service.webhooks.receiver import PATH

DEMO_WEBHOOK_SECRETS = {"partner": "demo-partner-app-secret", "rep": "demo-rep-app-secret"}
CROSSING_DEADLINE_SECONDS = 30.0


def set_demo_webhook_secrets() -> None:
    """The demo apps' client secrets, unless the environment names others."""
    for name, secret in DEMO_WEBHOOK_SECRETS.items():
        os.environ.setdefault(f"SYNC_WORKER_ENDPOINTS__{name.upper()}__WEBHOOK_SECRET", secret)


def webhook_step(out: Console, rt: Runtime, sandbox: Sandbox, link_property: str) -> bool:
    """Run the step; False when the edit did not cross in time."""
    out.rule("7. webhooks: the daemon hears of an edit at once")
    daemon = Daemon(rt)
    # Its own free port (the config's may be taken), and its first cycles at once.
    daemon.worker = daemon.worker.model_copy(
        update={"metrics_port": _free_port(), "jitter_seconds": 0}
    )
    daemon.start()
    try:
        _wait_first_runs(daemon, rt)
        server = daemon.server
        if server is None:  # pragma: no cover - a metrics port is set above
            return True
        endpoints = rt.config.settings.endpoints
        for portal in sandbox.portals:
            secret = endpoints[portal.name].webhook_secret
            if secret is None:
                out.print(f"no webhook secret for {portal.name}: step skipped")
                return True
            url = server.url + PATH.format(endpoint=portal.name)
            portal.configure_webhooks(WebhookSpec(url, secret.get_secret_value()))
        out.print(f"the sandbox portals deliver webhooks to {server.url}/webhooks/hubspot/")
        return _edit_and_wait(out, sandbox, link_property)
    finally:
        sandbox.close()
        daemon.shutdown()


def _wait_first_runs(daemon: Daemon, rt: Runtime) -> None:
    """The daemon polls every pair once at start: let that end, so what follows is the
    webhook's doing."""
    deadline = time.monotonic() + CROSSING_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if set(rt.pairs) <= set(daemon.started) and not daemon.running:
            return
        time.sleep(0.05)


def _edit_and_wait(out: Console, sandbox: Sandbox, link_property: str) -> bool:
    partner, rep = sandbox.portal("partner"), sandbox.portal("rep")
    deal = next(d for d in partner.deals() if d.get(link_property))
    partner_id, rep_id = str(deal["hs_object_id"]), str(deal[link_property]).rsplit(":", 1)[-1]
    started = time.monotonic()
    partner.edit_deal(partner_id, {"amount": "64000"})
    out.print(f"- the partner sets deal {partner_id}'s amount to 64000 in the UI")
    while (rep.get_deal(rep_id) or {}).get("amount") != "64000":
        if time.monotonic() - started > CROSSING_DEADLINE_SECONDS:
            out.print(f"the edit did not reach rep deal {rep_id} in {CROSSING_DEADLINE_SECONDS} s")
            return False
        time.sleep(0.05)
    crossed = time.monotonic() - started
    out.print(f"- rep deal {rep_id} holds it {crossed:.1f} s later (the next poll: a minute away)")
    return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
