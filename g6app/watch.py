"""``python -m g6app watch URL``: the panels live in a terminal, reconnecting by itself.

Owns one HTTP connection at a time (a plain socket, so a quiet second never breaks the read),
reconnection with backoff and ``Last-Event-ID``, and the choice of view. Wire parsing lives in
sseclient, panel state in board, drawing in watchview.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import ssl
import sys
import time
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from . import __version__
from .board import Board
from .panels import PANEL_KEYS
from .sseclient import MAX_HEAD_BYTES, Backoff, ChunkedDecoder, ProtocolError, SSEParser, parse_head
from .watchview import LiveView, PlainView, QuietView, Status, plain_text, status_line

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 10.0
TICK_SECONDS = 1.0  # redraw at least this often (ages, highlights, staleness)
FATAL_STATUSES = (400, 401, 403, 404)


class HTTPStatusError(Exception):
    """The server answered the stream request with something other than 200."""

    def __init__(self, status: int, reason: str, retry_after_seconds: float | None):
        super().__init__(f"HTTP {status}: {reason}")
        self.status = status
        self.reason = reason
        self.retry_after_seconds = retry_after_seconds


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str

    @classmethod
    def parse(cls, url: str, panels: str | None) -> Target:
        parts = urlsplit(url if "://" in url else "http://" + url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        path = parts.path.rstrip("/") + "/summary/events"
        if panels:
            path += "?" + urlencode({"panels": panels})
        return cls(parts.scheme, parts.hostname, port, path)


def request_bytes(target: Target, token: str | None, last_event_id: str | None) -> bytes:
    headers = {"Host": f"{target.host}:{target.port}", "Accept": "text/event-stream",
               "Cache-Control": "no-cache", "User-Agent": f"g6app-watch/{__version__}"}
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    if token:
        headers["Authorization"] = f"Bearer {token}"
    lines = [f"GET {target.path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _recv(sock: socket.socket) -> bytes:
    data = sock.recv(65536)
    if not data:
        raise ConnectionError("server closed the connection")
    return data


def open_stream(target: Target, token: str | None,
                last_event_id: str | None) -> tuple[socket.socket, ChunkedDecoder | None, bytes]:
    """Connect and read the response head; return the socket, its body decoder and body bytes."""
    sock = socket.create_connection((target.host, target.port), timeout=CONNECT_TIMEOUT_SECONDS)
    try:
        if target.scheme == "https":
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=target.host)
        sock.sendall(request_bytes(target, token, last_event_id))
        buf = b""
        while b"\r\n\r\n" not in buf:
            if len(buf) > MAX_HEAD_BYTES:
                raise ProtocolError("response head too large")
            buf += _recv(sock)
        head, rest = buf.split(b"\r\n\r\n", 1)
        status, headers = parse_head(head)
        chunked = headers.get("transfer-encoding", "").lower() == "chunked"
        decoder = ChunkedDecoder() if chunked else None
        body = decoder.feed(rest) if decoder else rest
        if status != 200:
            body = _error_body(sock, headers, body)
            raise HTTPStatusError(status, _reason(body), _retry_after(headers))
        return sock, decoder, body
    except BaseException:
        sock.close()
        raise


def _error_body(sock: socket.socket, headers: dict[str, str], body: bytes) -> bytes:
    """The whole (small) body of an error answer: it may come in a later segment than the head."""
    length = headers.get("content-length", "")
    wanted = min(int(length), MAX_HEAD_BYTES) if length.isdigit() else 0
    while len(body) < wanted:
        try:
            body += _recv(sock)
        except (OSError, ConnectionError):
            break
    return body


def _reason(body: bytes) -> str:
    try:
        return str(json.loads(body.decode("utf-8"))["error"])
    except (ValueError, KeyError, TypeError):
        return body[:80].decode("utf-8", "replace") or "no reason given"


def _retry_after(headers: dict[str, str]) -> float | None:
    value = headers.get("retry-after", "")
    return float(value) if value.isdigit() else None


class Watcher:
    """The reconnect loop: one stream at a time, the board kept across reconnections."""

    def __init__(self, target: Target, token: str | None, view, keys: tuple[str, ...],
                 stale_seconds: float, once: bool = False, exit_on_bye: bool = False):
        self.target = target
        self.token = token
        self.view = view
        self.board = Board(keys)
        self.status = Status()
        self.stale_seconds = stale_seconds
        self.once = once
        self.exit_on_bye = exit_on_bye
        self.backoff = Backoff(base_seconds=1.0, max_seconds=30.0)

    def run(self) -> int:
        """Watch until Ctrl-C (KeyboardInterrupt, left to the caller), --once or bye; exit code."""
        while True:
            try:
                finished, delay = self._session()
            except HTTPStatusError as exc:
                if exc.status in FATAL_STATUSES:
                    print(f"g6app watch: {exc}", file=sys.stderr)
                    return 2
                delay = max(exc.retry_after_seconds or 0.0, self.backoff.next_seconds())
                self._set("reconnecting", f"{exc}, retry in {delay:.1f}s")
            except (OSError, ProtocolError) as exc:
                delay = self.backoff.next_seconds()
                self._set("reconnecting", f"{_describe(exc)}, retry in {delay:.1f}s")
            if finished:
                return 0
            time.sleep(delay)

    def _set(self, state: str, detail: str = "", changed: list[str] | None = None) -> None:
        self.status = Status(state, detail)
        self.view.show(self.board, self.status, changed or [], time.time())

    def _session(self) -> tuple[bool, float]:
        """One stream, read to its end; (finished, delay before the next connection)."""
        sock, decoder, body = open_stream(self.target, self.token, self.board.resume_id)
        parser = SSEParser(self.board.resume_id or "")
        sock.settimeout(TICK_SECONDS)
        last_bytes_at = time.monotonic()
        try:
            while True:
                for event in parser.feed(body):
                    outcome = self._handle(event)
                    if outcome is not None:
                        return outcome
                if decoder is not None and decoder.done:
                    break
                body = b""
                try:
                    data = _recv(sock)
                except TimeoutError:
                    silent = time.monotonic() - last_bytes_at
                    if silent > self.stale_seconds:
                        self._set("stale", f"nothing for {silent:.0f}s")
                        break
                    self._set(self.status.state, self.status.detail)
                    continue
                last_bytes_at = time.monotonic()
                body = decoder.feed(data) if decoder is not None else data
        finally:
            sock.close()
        delay = self.backoff.next_seconds()
        self._set("reconnecting", f"stream ended, retry in {delay:.1f}s")
        return False, delay

    def _handle(self, event) -> tuple[bool, float] | None:
        changed = self.board.apply(event, time.time())
        if event.type == "hello":
            self.backoff.reset()
            self.status = Status("live")
        self.view.show(self.board, self.status, changed, time.time())
        if self.once and self.board.complete and event.type != "hello":
            return True, 0.0
        if event.type == "resync_required":
            return False, 0.0
        if event.type == "bye":
            if self.exit_on_bye:
                return True, 0.0
            reason = self.board.bye_reason
            delay = 0.2 if reason == "max_lifetime" else self.backoff.next_seconds()
            self._set("reconnecting", f"server said bye ({reason}), retry in {delay:.1f}s")
            return False, delay
        return None


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", help="the server, e.g. http://127.0.0.1:9325")
    parser.add_argument("--token", default=os.environ.get("G6_SSE_API_TOKEN"),
                        help="API token (default: $G6_SSE_API_TOKEN); sent as a bearer token")
    parser.add_argument("--panels", help="comma-separated panel keys (default: all eight)")
    parser.add_argument("--exit-on-bye", action="store_true",
                        help="exit when the server ends the stream instead of reconnecting")
    parser.add_argument("--plain", action="store_true",
                        help="print the panels as plain text on every change (for pipes)")
    parser.add_argument("--once", action="store_true",
                        help="print the current panels once as plain text and exit")
    parser.add_argument("--stale-seconds", type=float, default=35.0,
                        help="silence (no event, no keepalive) before reconnecting")


def run(args: argparse.Namespace) -> int:
    try:
        target = Target.parse(args.url, args.panels)
    except ValueError as exc:
        print(f"g6app watch: {exc}", file=sys.stderr)
        return 2
    keys = PANEL_KEYS
    if args.panels:
        keys = tuple(key for key in PANEL_KEYS if key in args.panels.split(","))
    if args.once:
        view = QuietView()
    elif args.plain or not sys.stdout.isatty():
        view = PlainView(sys.stdout)
    else:
        from rich.console import Console
        view = LiveView(Console())
    watcher = Watcher(target, args.token, view, keys, args.stale_seconds,
                      once=args.once, exit_on_bye=args.exit_on_bye)
    try:
        code = watcher.run()
        if args.once and code == 0:
            print(f"{status_line(watcher.board, watcher.status, time.time())}\n"
                  f"{plain_text(watcher.board)}")
        return code
    except KeyboardInterrupt:
        return 0
    finally:
        view.close()
