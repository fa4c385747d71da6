"""A real gunicorn (gevent workers) in a subprocess, on a port the kernel picks.

Binds ``127.0.0.1:0`` and reads the port gunicorn reports, so no test ever races for a fixed
or "free" port. The log goes to a file that fixtures attach to failing tests.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.support.process import read_log, stop_process

ROOT = Path(__file__).resolve().parents[2]
LISTEN_RE = re.compile(r"Listening at: http://([\d.]+):(\d+)")
BOOT_RE = re.compile(r"Booting worker with pid: (\d+)")


class GunicornServer:
    """One gunicorn master with its workers; ``stop`` (or the fixture) always cleans up."""

    def __init__(self, workdir: Path, env: dict[str, str] | None = None, workers: int = 2,
                 status_file: Path | None = None, extra_args: list[str] | None = None):
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.status_file = status_file or workdir / "runtime_status.json"
        self.metrics_dir = workdir / "prometheus"
        self.metrics_dir.mkdir(exist_ok=True)
        self.log_path = workdir / "gunicorn.log"
        self.env = {
            **os.environ,
            "G6_BIND": "127.0.0.1:0",
            "G6_WORKERS": str(workers),
            "G6_STATUS_FILE": str(self.status_file),
            "G6_SUMMARY_REFRESH_SEC": "0.1",
            "PROMETHEUS_MULTIPROC_DIR": str(self.metrics_dir),
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.workers = workers
        self.extra_args = extra_args or []
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_seconds: float = 20) -> GunicornServer:
        offset = len(self.log())
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop(), outlives this call)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", *self.extra_args,
             "wsgi:app"],
            cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}:\n{self.log()}")
            match = LISTEN_RE.search(self.log())
            if match and self.port is None:
                self.port = int(match.group(2))
            # Every worker has read the status once ("hub started" follows its first refresh).
            started = self.log()[offset:].count("hub started")
            if self.port and started >= self.workers and self._healthy():
                return self
            time.sleep(0.05)
        raise TimeoutError(f"gunicorn not ready in {timeout_seconds}s:\n{self.log()}")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=2) as resp:
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def log(self) -> str:
        return read_log(self.log_path)

    def worker_pids(self) -> list[int]:
        """Live worker processes of this master (read from /proc)."""
        if self.proc is None:
            return []
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == self.proc.pid and fields[0] != "Z":
                pids.append(int(entry.name))
        return sorted(pids)

    def get_json(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict]:
        request = urllib.request.Request(self.url + path, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=5) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def get_text(self, path: str, headers: dict[str, str] | None = None) -> str:
        request = urllib.request.Request(self.url + path, headers=headers or {})
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.read().decode()

    def wait_all_workers(self, probe, timeout_seconds: float = 10) -> None:
        """Until ``probe(health)`` holds for a /summary/health answer from every live worker."""
        good: set[int] = set()
        deadline = time.monotonic() + timeout_seconds
        while not set(self.worker_pids()) <= good:
            if time.monotonic() > deadline:
                raise AssertionError(f"workers {sorted(set(self.worker_pids()) - good)} never "
                                     f"satisfied the condition")
            _, health = self.get_json("/summary/health")
            if probe(health):
                good.add(health["worker_pid"])
            else:
                good.discard(health["worker_pid"])
                time.sleep(0.02)

    def signal(self, signum: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    def wait(self, timeout_seconds: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout_seconds)

    def stop(self, timeout_seconds: float = 20) -> int | None:
        """SIGTERM, then SIGKILL of the whole process group if it does not go in time."""
        if self.proc is None:
            return None
        code = stop_process(self.proc, timeout_seconds)
        with contextlib.suppress(ProcessLookupError):  # workers the master left behind
            os.killpg(self.proc.pid, signal.SIGKILL)
        self._log.close()
        return code


def socket_owner_pid(server: GunicornServer, client_port: int) -> int | None:
    """The worker whose socket is connected to our local ``client_port`` (from /proc/net/tcp*)."""
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if local_port == server.port and remote_port == client_port:
                inode = fields[9]
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in server.worker_pids():
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd) == target:
                    return pid
            except OSError:
                continue
    return None
