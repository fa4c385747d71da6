"""What every server a test starts needs: its log as text, and a stop that always ends it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path


def read_log(path: Path) -> str:
    """The log so far ('' before the program wrote one)."""
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def stop_process(proc: subprocess.Popen | None, timeout_seconds: float) -> int | None:
    """SIGTERM; after ``timeout_seconds`` SIGKILL to its whole process group (tests start every
    server in a session of its own). Returns the exit code, None if it never ran."""
    if proc is None:
        return None
    if proc.poll() is None:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout_seconds)
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    return proc.wait(timeout=10)
