"""A real nginx for tests, running the production ``deploy/nginx.conf`` on a free port.

The deploy file's upstream servers and listen line are swapped for the test's; everything else
(buffering, timeouts, the /metrics rule) is exercised as shipped. pid, logs and temp paths live
in the test's directory; ``stop`` always cleans up.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

from tests.support.process import read_log, stop_process
from tests.support.redis import free_port

ROOT = Path(__file__).resolve().parents[2]
DEPLOY_CONF = ROOT / "deploy" / "nginx.conf"
NGINX = "/usr/sbin/nginx"
UPSTREAM_SERVER_RE = re.compile(r"^\s*server 127\.0\.0\.1:\d+[^;]*;\n", re.MULTILINE)

MAIN_CONF = """\
{user}
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 1024; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {site};
}}
"""


def render_site(port: int, upstreams: list[str], proxy_bind: str | None) -> str:
    """The deploy site config, listening on ``port`` and proxying to ``upstreams``."""
    text = DEPLOY_CONF.read_text()
    servers = "".join(f"    server {hostport} max_fails=1 fail_timeout=5s;\n"
                      for hostport in upstreams)
    text, count = UPSTREAM_SERVER_RE.subn("", text)
    assert count, "deploy/nginx.conf has no upstream server lines"
    text = text.replace("    keepalive 32;\n", servers + "    keepalive 32;\n", 1)
    text = text.replace("    listen 80;\n", f"    listen 127.0.0.1:{port};\n", 1)
    if proxy_bind:
        text = text.replace("    proxy_http_version 1.1;\n",
                            f"    proxy_bind {proxy_bind};\n    proxy_http_version 1.1;\n", 1)
    return text


class NginxServer:
    """nginx in the foreground (``daemon off``) in front of the given upstreams."""

    def __init__(self, workdir: Path, upstreams: list[str], proxy_bind: str | None = None):
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.upstreams = upstreams
        self.proxy_bind = proxy_bind
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, attempts: int = 5, timeout_seconds: float = 10) -> NginxServer:
        for _ in range(attempts):
            self.port = free_port()
            self._write_config()
            self.proc = subprocess.Popen(
                [NGINX, "-c", str(self.workdir / "nginx.conf"), "-p", str(self.workdir),
                 "-g", "daemon off;"],
                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
            if self._wait_listening(timeout_seconds):
                return self
            self.stop()
        raise RuntimeError(f"nginx did not start:\n{self.log()}")

    def _write_config(self) -> None:
        for stale in ("error.log", "nginx.pid"):
            (self.workdir / stale).unlink(missing_ok=True)
        site = self.workdir / "site.conf"
        site.write_text(render_site(self.port, self.upstreams, self.proxy_bind))
        user = "user root;" if os.geteuid() == 0 else ""
        (self.workdir / "nginx.conf").write_text(
            MAIN_CONF.format(user=user, prefix=self.workdir, site=site))

    def _wait_listening(self, timeout_seconds: float) -> bool:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if "start worker process" in self.log() and (self.workdir / "nginx.pid").exists():
                return True
            time.sleep(0.02)
        return False

    def log(self) -> str:
        return read_log(self.workdir / "error.log")

    def stop(self, timeout_seconds: float = 10) -> None:
        stop_process(self.proc, timeout_seconds)
