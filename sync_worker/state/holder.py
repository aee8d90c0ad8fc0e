"""Who holds a lease, as a machine and a process: enough to tell, on the same machine, that the
holder died (SIGKILL, OOM kill, a container restart in a shared pid namespace) without waiting
for its lease to expire.

A machine is named by its host name, boot id and pid namespace, so that two containers with
one host name, or a rebooted host, never mistake each other's process ids. Where these cannot
be read (not Linux), no process is ever judged dead: the lease's expiry alone frees it.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

__all__ = ["THIS_NODE", "holder_gone", "process_gone"]


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="ascii").strip()
    except OSError:
        return None


def _node() -> str | None:
    boot = _read("/proc/sys/kernel/random/boot_id")
    try:
        namespace = str(Path("/proc/self/ns/pid").readlink())
    except OSError:
        return None
    if boot is None:
        return None
    return f"{socket.gethostname()}/{boot}/{namespace}"


THIS_NODE = _node()
"""This machine (host, boot, pid namespace), or None where it cannot be told."""


def process_gone(pid: int) -> bool:
    """Whether process ``pid`` of this machine no longer runs (a zombie counts as gone)."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it exists, run by another user
    stat = _read(f"/proc/{pid}/stat")
    if stat is None:
        return False
    state = stat.rpartition(")")[2].split()[:1]
    return state in (["Z"], ["X"])


def holder_gone(node: str | None, pid: int | None) -> bool:
    """Whether a lease holder recorded as (``node``, ``pid``) is known to be dead."""
    if node is None or pid is None or THIS_NODE is None or node != THIS_NODE:
        return False
    return process_gone(pid)
