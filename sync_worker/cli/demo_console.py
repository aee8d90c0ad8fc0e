"""The end of ``make demo``: where the web console is, and with ``--keep-open`` the real
daemon serving it (the sandbox CRMs stay up and keep syncing) until Ctrl-C.

The demo signs people in as ``operator``: with ``SYNC_WORKER_CONSOLE__OPERATOR_PASSWORD`` if it
is set, else with a password made for this run and printed (the demo's CRMs are local
sandboxes; nothing else is behind it).
"""

from __future__ import annotations

import os
import secrets

from pydantic import SecretStr
from rich.console import Console

from sync_worker.runtime.config import LoadedConfig
from sync_worker.runtime.console_settings import ConsoleRole, ConsoleUser
from sync_worker.runtime.wiring import Runtime

OPERATOR_VARIABLE = "SYNC_WORKER_CONSOLE__OPERATOR_PASSWORD"


def console_url(loaded: LoadedConfig) -> str:
    console = loaded.settings.console
    return f"http://{console.host}:{console.port}/"


def point_to_console(out: Console, loaded: LoadedConfig) -> None:
    out.print(
        f"web console: {console_url(loaded)} - run `sync-worker demo --keep-open` "
        "(`make demo ARGS=--keep-open`) to leave it up with these deals, signed in as operator"
    )


def keep_open(out: Console, rt: Runtime) -> int:
    """Serve the console (and keep syncing) until SIGINT/SIGTERM; the process exit code."""
    from sync_worker.service.daemon import Daemon

    loaded = rt.config
    given = os.environ.get(OPERATOR_VARIABLE)
    password = given or secrets.token_urlsafe(12)
    users = loaded.console_users or (
        ConsoleUser("operator", ConsoleRole.OPERATOR, SecretStr(password)),
    )
    console = loaded.settings.console.model_copy(update={"enabled": True})
    settings = loaded.settings.model_copy(update={"console": console})
    rt.config = loaded.model_copy(update={"settings": settings, "console_users": users})
    daemon = Daemon(rt)
    daemon.install_signal_handlers()
    try:
        daemon.start()
    except OSError as exc:
        daemon.shutdown()
        out.print(
            f"demo error: cannot serve the console on {console.host}:{console.port} "
            f"({exc.strerror}); change console.port in the config"
        )
        return 2
    who = "operator" if not loaded.console_users else "a user of console.users_file"
    shown = "" if given or loaded.console_users else f", password {password}"
    out.rule("the web console")
    out.print(f"web console: {console_url(rt.config)} (sign in as {who}{shown})")
    out.print("the daemon keeps syncing the sandbox CRMs; Ctrl-C stops both")
    daemon.wait()
    return 0
