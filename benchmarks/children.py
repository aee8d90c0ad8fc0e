"""Child processes of the benchmarks (sandboxes fed over stdin), ended the same way everywhere.
Only the standard library: the sandbox processes import it too."""

from __future__ import annotations

import subprocess


def end_child(child: subprocess.Popen[str]) -> None:
    """Close a sandbox child's stdin (its signal to stop) and wait; kill it after 30 s."""
    if child.stdin is not None:
        child.stdin.close()
    try:
        child.wait(timeout=30)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
