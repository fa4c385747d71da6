"""A strict SSE client over a raw socket: no buffering library in between, deadlines everywhere.

It decodes HTTP/1.1 chunked framing itself and parses events per the SSE rules, so tests see
exactly the bytes the server wrote and when it wrote them.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Event:
    type: str
    data: Any
    id: str | None = None
    retry: int | None = None
    raw: bytes = b""
    received_at: float = field(default_factory=time.monotonic)


class StreamClosed(Exception):
    """The server ended the stream."""


class SSEClient:
    def __init__(self, host: str, port: int, path: str = "/summary/events",
                 headers: dict[str, str] | None = None, timeout_seconds: float = 10,
                 rcvbuf_bytes: int | None = None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf_bytes:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf_bytes)
        self.sock.settimeout(timeout_seconds)
        self.sock.connect((host, port))
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Accept: text/event-stream"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self._buf = b""
        self._body = b""
        self._chunked = False
        self._closed = False
        self.status, self.headers = self._read_head(time.monotonic() + timeout_seconds)
        self.comments: list[str] = []
        self.last_retry: int | None = None

    @classmethod
    def connect(cls, url: str, path: str = "/summary/events", **kwargs: Any) -> SSEClient:
        hostport = url.split("//", 1)[1]
        host, port = hostport.rsplit(":", 1)
        return cls(host, int(port), path, **kwargs)

    def _recv(self, deadline: float) -> bytes:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no data before the deadline")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            raise TimeoutError("no data before the deadline") from None
        if not data:
            raise StreamClosed("connection closed")
        return data

    def _read_head(self, deadline: float) -> tuple[int, dict[str, str]]:
        while b"\r\n\r\n" not in self._buf:
            self._buf += self._recv(deadline)
        head, self._buf = self._buf.split(b"\r\n\r\n", 1)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        self._chunked = headers.get("transfer-encoding", "").lower() == "chunked"
        return int(status_line.split()[1]), headers

    def _fill_body(self, deadline: float) -> None:
        """Move at least some decoded body bytes into ``_body``."""
        if not self._chunked:
            if self._buf:
                self._body += self._buf
                self._buf = b""
                return
            self._body += self._recv(deadline)
            return
        while True:
            if b"\r\n" in self._buf:
                size_line, rest = self._buf.split(b"\r\n", 1)
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    self._closed = True
                    raise StreamClosed("last chunk")
                if len(rest) >= size + 2:
                    self._body += rest[:size]
                    self._buf = rest[size + 2:]
                    return
            self._buf += self._recv(deadline)

    def json(self, timeout_seconds: float = 5) -> Any:
        """The body of a non-stream answer (sized by Content-Length), decoded."""
        deadline = time.monotonic() + timeout_seconds
        length = int(self.headers["content-length"])
        while len(self._buf) < length:
            self._buf += self._recv(deadline)
        return json.loads(self._buf[:length])

    def read_body(self, timeout_seconds: float = 5) -> bytes:
        """Everything until the server closes (for non-stream answers)."""
        deadline = time.monotonic() + timeout_seconds
        try:
            while True:
                self._fill_body(deadline)
        except StreamClosed:
            return self._body

    def next_event(self, timeout_seconds: float = 5) -> Event:
        """The next complete event (comments are collected in ``comments``)."""
        deadline = time.monotonic() + timeout_seconds
        while True:
            while b"\n\n" not in self._body:
                self._fill_body(deadline)
            block, self._body = self._body.split(b"\n\n", 1)
            event = self._parse(block)
            if event is not None:
                return event

    def _parse(self, block: bytes) -> Event | None:
        fields: dict[str, str] = {}
        data_lines = []
        for line in block.decode("utf-8").split("\n"):
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                data_lines.append(value)
            else:
                fields[name] = value
        if "retry" in fields:
            self.last_retry = int(fields["retry"])
        if not data_lines:
            return None
        return Event(type=fields.get("event", "message"), data=json.loads("\n".join(data_lines)),
                     id=fields.get("id"), retry=int(fields["retry"]) if "retry" in fields else None,
                     raw=block)

    def events_until(self, predicate, timeout_seconds: float = 5) -> list[Event]:
        """Read events until one satisfies ``predicate``; return all read, that one last."""
        deadline = time.monotonic() + timeout_seconds
        seen = []
        while True:
            event = self.next_event(max(0.001, deadline - time.monotonic()))
            seen.append(event)
            if predicate(event):
                return seen

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self) -> SSEClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
