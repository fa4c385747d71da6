"""A real Prometheus scrapes a real gunicorn while workers are recycled and killed.

Prometheus runs from ``/usr/bin/prometheus`` with its config and storage in the test's tmp
dir, on a port found by binding port 0 (retried if another process takes it first).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.support.streams import ManyStreams
from tests.support.wait import wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("prometheus") is None, reason="prometheus not installed"),
]

SNAPSHOT = b"event: full_snapshot"
RANGE = "10m"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Prometheus:
    """One Prometheus server scraping ``target`` every second."""

    def __init__(self, workdir: Path, target: str):
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.config = workdir / "prometheus.yml"
        self.config.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            "scrape_configs:\n  - job_name: g6app\n"
            f"    static_configs:\n      - targets: ['{target}']\n")
        self.log_path = workdir / "prometheus.log"
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self, attempts: int = 5) -> Prometheus:
        for _ in range(attempts):
            port = free_port()
            self.url = f"http://127.0.0.1:{port}"
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    ["prometheus", f"--config.file={self.config}",
                     f"--storage.tsdb.path={self.workdir / 'data'}",
                     f"--web.listen-address=127.0.0.1:{port}"],
                    stdout=log, stderr=subprocess.STDOUT)
            if self._ready(timeout_seconds=30):
                return self
            self.stop()  # most likely the port was taken in between: try another
        raise RuntimeError(f"prometheus did not start:\n{self.log()}")

    def _ready(self, timeout_seconds: float) -> bool:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as resp:
                    if resp.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        return False

    def query(self, expr: str) -> list[dict]:
        url = self.url + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=10) as resp:
            body = json.loads(resp.read())
        assert body["status"] == "success", body
        return body["data"]["result"]

    def scalar(self, expr: str) -> float | None:
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@pytest.fixture
def prometheus(request, tmp_path):
    started: list[Prometheus] = []

    def start(target: str) -> Prometheus:
        server = Prometheus(tmp_path / "prometheus", target).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
        request.node.add_report_section("teardown", "prometheus log", server.log()[-10000:])


def sample_times(prom: Prometheus, expr: str) -> set[float]:
    """Timestamps of every stored sample of ``expr`` (a single series) over the range."""
    result = prom.query(f"{expr}[{RANGE}]")
    assert len(result) == 1, result
    return {float(t) for t, _ in result[0]["values"]}


def replace_worker(server, how: int) -> None:
    victim = server.worker_pids()[0]
    os.kill(victim, how)
    wait_until(lambda: victim not in server.worker_pids() and len(server.worker_pids()) == 2,
               timeout_seconds=20, message="worker replaced")


def reload_workers(server) -> None:
    old = set(server.worker_pids())
    server.signal(signal.SIGHUP)
    wait_until(lambda: len(server.worker_pids()) == 2 and not old & set(server.worker_pids()),
               timeout_seconds=20, message="workers reloaded")


def open_streams(server, count: int) -> ManyStreams:
    streams = ManyStreams(server.url, count)
    streams.pump(lambda ss: all(s.has(SNAPSHOT) for s in ss), 20, f"{count} snapshots")
    return streams


def test_prometheus_sees_exact_families_through_recycling_and_kills(gunicorn_server, prometheus):
    """Scraped every second through SIGTERM, SIGHUP and SIGKILL of workers: both SSE families
    are in every scrape, the connections counter never resets, the gauge matches open streams."""
    server = gunicorn_server(workers=2)
    prom = prometheus(server.url.split("//", 1)[1])
    wait_until(lambda: prom.scalar('up{job="g6app"}') == 1, timeout_seconds=20,
               message="first scrape")
    opened = 0
    for how in (signal.SIGTERM, signal.SIGKILL, signal.SIGHUP):
        streams = open_streams(server, 10)
        opened += 10
        wait_until(lambda: prom.scalar("g6_sse_http_active_connections") == 10,
                   timeout_seconds=10, message="gauge of 10 open streams in prometheus")
        if how == signal.SIGHUP:
            reload_workers(server)
        else:
            replace_worker(server, how)
        streams.close()
    with open_streams(server, 7):
        opened += 7
        wait_until(lambda: prom.scalar("g6_sse_http_active_connections") == 7,
                   timeout_seconds=10, message="gauge of the 7 open streams")
        wait_until(lambda: prom.scalar("g6_sse_http_connections_total") == opened,
                   timeout_seconds=10, message=f"{opened} connections counted")
    assert prom.scalar(f"resets(g6_sse_http_connections_total[{RANGE}])") == 0
    assert prom.scalar(f"resets(g6_sse_http_disconnects_total[{RANGE}])") == 0
    successful = {t for t, v in prom.query(f'up{{job="g6app"}}[{RANGE}]')[0]["values"]
                  if v == "1"}
    for family in ("g6_sse_http_active_connections", "g6_sse_http_connections_total"):
        assert sample_times(prom, family) == {float(t) for t in successful}, family
    assert prom.scalar("g6_metrics_multiproc_files") is not None


# promtool flags any name containing "summary" as if it named the summary type; here it is the
# service's name (g6_summary_*: the summary service's own families), kept for compatibility.
SERVICE_NAME_LINT = re.compile(r"^g6_summary_\w+ metric name should not include type 'summary'$")


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_prometheus_promtool_finds_no_problem_in_exposition(gunicorn_server):
    """`promtool check metrics` on a real scrape (after traffic) reports nothing but the
    service-name lint."""
    server = gunicorn_server(workers=2)
    with open_streams(server, 3):
        text = server.get_text("/metrics")
    result = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                            text=True, timeout=30)
    problems = [line for line in (result.stdout + result.stderr).splitlines()
                if line.strip() and not SERVICE_NAME_LINT.match(line.strip())]
    assert not problems, problems
    assert "g6_sse_http_connections_total 3.0" in text
