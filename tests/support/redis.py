"""A real ``redis-server`` for tests, on a free port, with no persistence; always cleaned up.

Redis cannot listen on port 0, so the port is one the kernel just handed out and released;
another process taking it in between makes redis exit, and the start is retried on a new one.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.support.process import read_log, stop_process

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel considers free right now (bind to 0, read it, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class RedisServer:
    """One redis-server process; ``stop``/``kill`` end it, ``start`` brings it back on its port."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / "redis.log"
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, attempts: int = 5, timeout_seconds: float = 10) -> RedisServer:
        """Start on the known port (a restart) or on a fresh free one, retrying collisions."""
        fixed = self.port
        for _ in range(attempts):
            self.port = fixed or free_port()
            if self._try_start(timeout_seconds):
                return self
            if fixed:
                break
        raise RuntimeError(f"redis-server did not start:\n{self.log()}")

    def _try_start(self, timeout_seconds: float) -> bool:
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.workdir),
             "--logfile", str(self.log_path), "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if self.ping():
                return True
            time.sleep(0.02)
        self.stop()
        return False

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def log(self) -> str:
        return read_log(self.log_path)

    def stop(self, timeout_seconds: float = 10) -> None:
        """SIGTERM, then SIGKILL if it lingers; the port is free afterwards."""
        stop_process(self.proc, timeout_seconds)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
