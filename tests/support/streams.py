"""Many SSE streams at once on raw non-blocking sockets, pumped with one selector.

For tests that need hundreds or thousands of open streams: each stream keeps its raw bytes,
and ``pump`` reads whatever arrives until a condition over all streams holds or a deadline
passes. It does not parse framing beyond what the tests look for (event names, ``bye``).
"""

from __future__ import annotations

import re
import resource
import selectors
import socket
import time
from collections.abc import Callable

BYE_RE = re.compile(rb"event: bye\n(?:id: [^\n]*\n)?(?:retry: (\d+)\n)?data: ([^\n]*)\n\n")


def raise_open_files_limit(wanted: int) -> None:
    """Raise this process's RLIMIT_NOFILE (servers started later inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


class Stream:
    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.data = b""
        self.ended = False

    def has(self, marker: bytes) -> bool:
        return marker in self.data

    def bye(self) -> tuple[int | None, bytes] | None:
        """(retry ms, data) of the stream's bye event, if it came."""
        match = BYE_RE.search(self.data)
        if match is None:
            return None
        return (int(match.group(1)) if match.group(1) else None), match.group(2)

    @property
    def finished(self) -> bool:
        """The server ended the stream: the last chunk or the connection closed."""
        return self.ended or self.data.endswith(b"\r\n0\r\n\r\n")


class ManyStreams:
    """``count`` streams to ``url``; ``close`` (or the context manager) closes every socket."""

    def __init__(self, url: str, count: int = 0, path: str = "/summary/events"):
        host, port = url.split("//", 1)[1].rsplit(":", 1)
        self.address = (host, int(port))
        self.request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                        "Accept: text/event-stream\r\n\r\n").encode()
        self.selector = selectors.DefaultSelector()
        self.streams: list[Stream] = []
        try:
            self.open(count)
        except BaseException:
            self.close()
            raise

    def open(self, count: int) -> None:
        """Open ``count`` more streams (their requests are sent; nothing is read yet)."""
        for _ in range(count):
            sock = socket.create_connection(self.address, timeout=10)
            stream = Stream(sock)
            self.streams.append(stream)
            self.selector.register(sock, selectors.EVENT_READ, stream)
            sock.sendall(self.request)
            sock.setblocking(False)

    def pump(self, done: Callable[[list[Stream]], bool], timeout_seconds: float,
             message: str = "condition") -> None:
        """Read what arrives until ``done(streams)`` holds; AssertionError at the deadline."""
        deadline = time.monotonic() + timeout_seconds
        while not done(self.streams):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{message} not met within {timeout_seconds}s")
            for key, _ in self.selector.select(min(remaining, 0.5)):
                self._read(key.data)

    def _read(self, stream: Stream) -> None:
        try:
            chunk = stream.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if chunk:
            stream.data += chunk
        else:
            stream.ended = True
            self.selector.unregister(stream.sock)

    def count(self, predicate: Callable[[Stream], bool]) -> int:
        return sum(1 for stream in self.streams if predicate(stream))

    def close(self) -> None:
        for stream in self.streams:
            if not stream.ended:
                self.selector.unregister(stream.sock)
            stream.sock.close()
        self.selector.close()

    def __enter__(self) -> ManyStreams:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
