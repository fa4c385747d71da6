"""``python -m g6app watch`` as a subprocess against a real gunicorn: output, resume, exits."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from g6app.panels import PANEL_TITLES
from tests.support import status
from tests.support.metrics import scrape
from tests.support.server import ROOT

pytestmark = pytest.mark.integration

EXIT_SECONDS = 20
LINE_SECONDS = 15


class Watch:
    """The watch command in a subprocess; its stdout read line by line, with deadlines."""

    def __init__(self, *args: str):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "g6app", "watch", *args], cwd=ROOT, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_line(self, predicate, timeout_seconds: float = LINE_SECONDS) -> str:
        deadline = time.monotonic() + timeout_seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("no matching line; output so far:\n" + "\n".join(self.seen))
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            self.seen.append(line)
            if predicate(line):
                return line

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=EXIT_SECONDS)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=EXIT_SECONDS)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


@pytest.fixture
def watch():
    started: list[Watch] = []

    def start(*args: str) -> Watch:
        started.append(Watch(*args))
        return started[-1]

    yield start
    for one in started:
        one.close()


def test_watch_once_prints_every_panel_verified(gunicorn_server):
    """--once prints the eight panels of the live state, every hash verified, and exits 0."""
    server = gunicorn_server()
    done = subprocess.run([sys.executable, "-m", "g6app", "watch", server.url, "--once"],
                          cwd=ROOT, capture_output=True, text=True, timeout=EXIT_SECONDS)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("live  cycle 40105") and "verified 8/8" in out
    for title in PANEL_TITLES.values():
        assert f"[{title}]\n" in out
    assert "  NIFTY       19,980.40   +0.10%" in out and "hash mismatch" not in out
    _, resync = server.get_json("/summary/resync")
    assert f"id {resync['id']}" in out


def test_watch_panel_filter_shows_only_those_panels(gunicorn_server):
    """--panels restricts the stream and the output to the named panels."""
    server = gunicorn_server()
    done = subprocess.run([sys.executable, "-m", "g6app", "watch", server.url, "--once",
                           "--panels", "alerts,indices"],
                          cwd=ROOT, capture_output=True, text=True, timeout=EXIT_SECONDS)
    assert done.returncode == 0, done.stderr
    titles = [line for line in done.stdout.splitlines() if line.startswith("[")]
    assert titles == ["[Indices]", "[Alerts]"] and "verified 2/2" in done.stdout


def test_watch_resumes_after_max_lifetime_without_a_second_snapshot(gunicorn_server, watch):
    """Streams ended by max_lifetime are resumed by Last-Event-ID: resume hits, one snapshot."""
    server = gunicorn_server(env={"G6_SSE_MAX_STREAM_SECONDS": "1"})
    client = watch(server.url, "--plain")
    client.wait_line(lambda line: line.startswith("== live") and "snapshots 1" in line)
    client.wait_line(lambda line: "resumes 2" in line)
    status.write(server.status_file, status.with_ltp(status.load(), "NIFTY", 20111.5))
    client.wait_line(lambda line: "20,111.50" in line)
    assert client.interrupt() == 0
    assert scrape(server)['g6_sse_http_resumes_total{result=hit}'] >= 2
    snapshots = [int(n) for n in re.findall(r"  snapshots (\d+)  ", "\n".join(client.seen))]
    assert snapshots[-1] == 1 and max(snapshots) == 1
    assert any("server said bye (max_lifetime)" in line for line in client.seen)


def test_watch_exit_on_bye_ends_cleanly(gunicorn_server):
    """With --exit-on-bye the client leaves when the stream reaches its lifetime, status 0."""
    server = gunicorn_server(env={"G6_SSE_MAX_STREAM_SECONDS": "1"})
    done = subprocess.run([sys.executable, "-m", "g6app", "watch", server.url, "--plain",
                           "--exit-on-bye"],
                          cwd=ROOT, capture_output=True, text=True, timeout=EXIT_SECONDS)
    assert done.returncode == 0, done.stderr
    assert "[Resources]\n  cpu 7.3%" in done.stdout and "Traceback" not in done.stderr


def test_watch_reconnects_after_a_server_restart(gunicorn_server, watch):
    """A stopped server shows as reconnecting; the one restarted on its port is resumed."""
    first = gunicorn_server(name="first")
    client = watch(first.url, "--plain")
    client.wait_line(lambda line: line.startswith("== live"))
    first.stop()
    client.wait_line(lambda line: line.startswith("-- reconnecting"))
    second = gunicorn_server(name="second", env={"G6_BIND": f"127.0.0.1:{first.port}"})
    client.wait_line(lambda line: line.startswith("-- live") and "resumes 1" in line,
                     timeout_seconds=45)
    assert scrape(second)['g6_sse_http_resumes_total{result=hit}'] == 1
    assert client.interrupt() == 0


def test_watch_unknown_panel_is_a_clear_error(gunicorn_server):
    """A 400 from the server (unknown panel) ends the client with status 2 and the reason."""
    server = gunicorn_server()
    done = subprocess.run([sys.executable, "-m", "g6app", "watch", server.url, "--once",
                           "--panels", "nope"],
                          cwd=ROOT, capture_output=True, text=True, timeout=EXIT_SECONDS)
    assert done.returncode == 2
    assert "HTTP 400" in done.stderr and "nope" in done.stderr


def test_watch_token_is_sent_and_its_absence_is_a_clear_error(gunicorn_server):
    """Without the token the client stops with 401 (status 2); with --token it shows the panels."""
    server = gunicorn_server(env={"G6_SSE_API_TOKEN": "watch-token-31"})
    command = [sys.executable, "-m", "g6app", "watch", server.url, "--once"]
    denied = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                            timeout=EXIT_SECONDS,
                            env={k: v for k, v in os.environ.items() if k != "G6_SSE_API_TOKEN"})
    assert denied.returncode == 2 and "HTTP 401" in denied.stderr
    allowed = subprocess.run([*command, "--token", "watch-token-31"], cwd=ROOT,
                             capture_output=True, text=True, timeout=EXIT_SECONDS)
    assert allowed.returncode == 0, allowed.stderr
    assert "verified 8/8" in allowed.stdout and "watch-token-31" not in allowed.stdout
