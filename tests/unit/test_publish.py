"""The publish command against a stdlib HTTP server on a kernel-chosen port: request and exits."""

from __future__ import annotations

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from g6app import cli
from g6app.publish import ingest_url


class Recorder(BaseHTTPRequestHandler):
    """Answers every PUT with the server's configured status and records what it got."""

    def do_PUT(self) -> None:  # noqa: N802 (http.server's naming)
        length = int(self.headers["Content-Length"])
        self.server.seen.append((self.path, dict(self.headers), self.rfile.read(length)))
        body = json.dumps(self.server.answer).encode()
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    httpd.seen, httpd.status, httpd.answer = [], 200, {"status": "stored"}
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def url_of(httpd) -> str:
    return f"http://127.0.0.1:{httpd.server_address[1]}"


def test_publish_puts_file_with_bearer_token(server, tmp_path: Path, capsys):
    """The file's bytes go as a PUT to /summary/status with JSON type and the bearer token."""
    path = tmp_path / "status.json"
    path.write_text('{"loop": {"cycle": 3}}')
    code = cli.main(["publish", str(path), "--url", url_of(server), "--token", "t0k"])
    assert code == 0
    (target, headers, body), = server.seen
    assert target == "/summary/status" and body == b'{"loop": {"cycle": 3}}'
    assert headers["Authorization"] == "Bearer t0k"
    assert headers["Content-Type"] == "application/json"
    assert json.loads(capsys.readouterr().out) == {"status": "stored"}


def test_publish_reads_stdin_and_token_from_env(server, monkeypatch):
    """``-`` reads standard input; the token may come from G6_INGEST_TOKEN."""
    monkeypatch.setenv("G6_INGEST_TOKEN", "from-env")
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b'{"a": 1}')))
    assert cli.main(["publish", "-", "--url", url_of(server)]) == 0
    (_, headers, body), = server.seen
    assert body == b'{"a": 1}' and headers["Authorization"] == "Bearer from-env"


def test_publish_server_refusal_exits_1(server, tmp_path: Path, capsys):
    """A 401 from the server is an exit status of 1 with the server's reason on stderr."""
    server.status, server.answer = 401, {"error": "unauthorized"}
    path = tmp_path / "status.json"
    path.write_text("{}")
    assert cli.main(["publish", str(path), "--url", url_of(server), "--token", "bad"]) == 1
    assert "HTTP 401: unauthorized" in capsys.readouterr().err


def test_publish_local_problems_exit_2_without_request(server, tmp_path: Path, monkeypatch):
    """No token, a missing file or invalid JSON fail before any request is sent."""
    monkeypatch.delenv("G6_INGEST_TOKEN", raising=False)
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    assert cli.main(["publish", str(bad), "--url", url_of(server)]) == 2
    assert cli.main(["publish", str(bad), "--url", url_of(server), "--token", "t"]) == 2
    assert cli.main(["publish", str(tmp_path / "missing.json"), "--url", url_of(server),
                     "--token", "t"]) == 2
    assert server.seen == []


def test_publish_unreachable_server_exits_1(tmp_path: Path, capsys):
    """A refused connection is reported, not raised."""
    path = tmp_path / "status.json"
    path.write_text("{}")
    closed = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    url = url_of(closed)
    closed.server_close()
    assert cli.main(["publish", str(path), "--url", url, "--token", "t",
                     "--timeout-seconds", "2"]) == 1
    assert "publish:" in capsys.readouterr().err


@pytest.mark.parametrize(("given", "expected"), [
    ("http://h:1", "http://h:1/summary/status"),
    ("http://h:1/", "http://h:1/summary/status"),
    ("https://h/g6/summary/status", "https://h/g6/summary/status"),
])
def test_publish_ingest_url_completes_base_urls(given: str, expected: str):
    """A base URL gets the ingest path; a full URL is kept."""
    assert ingest_url(given) == expected


def test_publish_ingest_url_rejects_other_schemes():
    """Only http and https URLs are accepted."""
    with pytest.raises(ValueError, match="http"):
        ingest_url("ftp://h/")
