"""The server side of a bench run: start gunicorn, write status changes, read /proc numbers.

Starts ``gunicorn -c gunicorn.conf.py wsgi:app`` on a kernel-chosen port (or measures a server
started elsewhere by its pid), writes status documents whose NIFTY price is the change's
sequence number, and sums CPU time and RSS over the server's process tree.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from ..simulator import Simulator

LISTEN_RE = re.compile(rb"Listening at: http://([\d.]+):(\d+)")
# Four more indices than the simulator's make the indices panel_update about 1 KB.
EXTRA_INDICES = {"MIDCPNIFTY": 10200.0, "BANKEX": 50100.0, "NIFTYNXT50": 61000.0,
                 "NIFTYIT": 33000.0}
SEQ_INDEX = "NIFTY"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


class StatusWriter:
    """Atomic replaces of one status file; change ``seq`` shows as the NIFTY price ``seq``."""

    def __init__(self, path: str):
        self.path = path
        document = Simulator(seed=7).step()
        for name, price in EXTRA_INDICES.items():
            document["indices"][name] = {"ltp": price, "change": 0.05}
            document["indices_detail"][name] = dict(document["indices_detail"][SEQ_INDEX],
                                                    ltp=price)
        self._document = document
        self.written_at: dict[int, float] = {}

    def write(self, seq: int) -> float:
        """Write change ``seq``; return the monotonic time the rename completed, and keep its
        wall-clock time (the clock of the kernel's receive timestamps) in ``written_at``."""
        document = copy.copy(self._document)
        document["indices"] = dict(document["indices"], **{SEQ_INDEX: {"ltp": seq, "change": 0.1}})
        tmp = f"{self.path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(document, fh)
        os.replace(tmp, self.path)
        self.written_at[seq] = time.time()
        return time.monotonic()


def process_tree(root_pid: int) -> list[int]:
    """``root_pid`` and its live descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != b"Z":
            children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [root_pid]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of ``pids`` (processes that went away count as zero)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def rss_bytes(pids: list[int]) -> int:
    """Resident set size summed over ``pids``."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm", "rb") as fh:
                total += int(fh.read().split()[1]) * PAGE_BYTES
        except OSError:
            continue
    return total


class LocalServer:
    """gunicorn with gevent workers in its own process group, in a private work directory."""

    def __init__(self, workers: int, env: dict[str, str]):
        self.workdir = Path(tempfile.mkdtemp(prefix="g6app-bench-"))
        self.status_file = str(self.workdir / "runtime_status.json")
        self.log_path = self.workdir / "gunicorn.log"
        (self.workdir / "prometheus").mkdir()
        self.env = {**os.environ, "G6_BIND": "127.0.0.1:0", "G6_WORKERS": str(workers),
                    "G6_STATUS_FILE": self.status_file,
                    "PROMETHEUS_MULTIPROC_DIR": str(self.workdir / "prometheus"),
                    "PYTHONUNBUFFERED": "1", **env}
        self.workers = workers
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self, cwd: str, timeout_seconds: float = 30) -> LocalServer:
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
                cwd=cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}: {self.log()}")
            match = LISTEN_RE.search(self.log_path.read_bytes())
            if match and len(process_tree(self.proc.pid)) > self.workers:
                self.url = f"http://{match.group(1).decode()}:{match.group(2).decode()}"
                return self
            time.sleep(0.05)
        raise TimeoutError(f"gunicorn not ready in {timeout_seconds}s: {self.log()}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self, timeout_seconds: float = 20) -> None:
        """SIGTERM (SIGKILL of the group if it does not go in time); remove the work directory."""
        try:
            self._terminate(timeout_seconds)
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _terminate(self, timeout_seconds: float) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout_seconds)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


def describe_machine() -> dict[str, Any]:
    """nproc, CPU model and memory, for the record."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        mem_kb = 0
    versions = {}
    for package in ("gunicorn", "gevent", "greenlet", "flask"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {"nproc": os.cpu_count(), "cpu_model": model, "memory_bytes": mem_kb * 1024,
            "python": sys.version.split()[0], **versions}
