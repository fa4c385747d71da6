"""Many SSE clients in one process: non-blocking sockets on one selector (epoll).

Connects in batches (so the server's listen backlog never overflows), decodes chunked framing
and SSE incrementally, parses each event's JSON, and records what an operator would ask of a
stream: the snapshot arrived, every change arrived, and how long after its write.
"""

from __future__ import annotations

import contextlib
import errno
import json
import re
import selectors
import socket
import struct
import time
from collections import Counter
from collections.abc import Callable
from urllib.parse import urlsplit

from .wire import ChunkedDecoder, ProtocolError, ResponseHead, SSEParser, parse_head

SEQ_RE = re.compile(r'"NIFTY +([\d,]+)\.')
RECV_BYTES = 262144
# Linux's SO_TIMESTAMPNS (= SCM_TIMESTAMPNS): the kernel stamps each received segment with its
# arrival time, so latency is measured to the client's receipt, not to when this one process
# got round to parsing it (with 10,000 streams that can be hundreds of milliseconds later).
SO_TIMESTAMPNS = 35
TIMESPEC = struct.Struct("@qq")
HEAD_TIMEOUT_SECONDS = 15.0


def sequence_of(data: str) -> int | None:
    """The change number carried by an event (the NIFTY price the bench writes), if any."""
    match = SEQ_RE.search(data)
    return int(match.group(1).replace(",", "")) if match else None


def arrival_time(ancillary: list[tuple[int, int, bytes]]) -> float:
    """Wall-clock arrival of the received bytes: the kernel's stamp, else now."""
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(payload) >= TIMESPEC.size:
            seconds, nanoseconds = TIMESPEC.unpack_from(payload)
            return seconds + nanoseconds / 1e9
    return time.time()


class Conn:
    """One client stream and what it has seen."""

    __slots__ = ("sock", "head", "buffer", "decoder", "parser", "started", "snapshot_seq",
                 "seqs", "last_seq", "window_events", "open")

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.head: ResponseHead | None = None
        self.buffer = b""
        self.decoder: ChunkedDecoder | None = None
        self.parser = SSEParser(strict=True)
        self.started = time.monotonic()
        self.snapshot_seq: int | None = None
        self.seqs = 0  # panel_updates that carried a new change number
        self.last_seq = -1
        self.window_events = 0
        self.open = True


class Swarm:
    """The clients of one run, the selector they share, and everything they counted."""

    def __init__(self, url: str, path: str, written_at: dict[int, float]):
        parts = urlsplit(url)
        self.address = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.request = (f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                        "Accept: text/event-stream\r\nUser-Agent: g6app-bench\r\n\r\n").encode()
        self.written_at = written_at
        self.selector = selectors.DefaultSelector()
        self.conns: list[Conn] = []
        self.by_type: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.parse_errors = 0
        self.latencies_seconds: list[float] = []
        self.measuring = False
        self.window_events = 0

    # -- connecting ---------------------------------------------------------------------------

    def connect(self, count: int, batch: int, tick: Callable[[], float | None]) -> None:
        """Open ``count`` streams, ``batch`` at a time, each batch answered before the next."""
        while len(self.conns) < count:
            fresh = [self._open() for _ in range(min(batch, count - len(self.conns)))]
            deadline = time.monotonic() + HEAD_TIMEOUT_SECONDS
            self.run(deadline, tick, until=lambda f=fresh: all(c.head or not c.open for c in f))
            for conn in fresh:
                if conn.open and conn.head is None:
                    self._fail(conn, "no response head")

    def _open(self) -> Conn:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        conn = Conn(sock)
        self.conns.append(conn)
        code = sock.connect_ex(self.address)
        if code not in (0, errno.EINPROGRESS):
            self._fail(conn, errno.errorcode.get(code, str(code)), registered=False)
        else:
            self.selector.register(sock, selectors.EVENT_WRITE, conn)
        return conn

    def _connected(self, conn: Conn) -> None:
        code = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            self._fail(conn, errno.errorcode.get(code, str(code)))
            return
        conn.sock.send(self.request)  # a few bytes into an empty socket buffer
        self.selector.modify(conn.sock, selectors.EVENT_READ, conn)

    # -- the loop -----------------------------------------------------------------------------

    def run(self, deadline: float, tick: Callable[[], float | None],
            until: Callable[[], bool] | None = None) -> None:
        """Serve sockets until ``deadline`` (or ``until()``); ``tick`` returns its next due time."""
        select = self.selector.select
        while True:
            due = tick()
            now = time.monotonic()
            if now >= deadline or (until is not None and until()):
                return
            wait = min(deadline, due if due is not None else deadline, now + 0.05) - now
            for key, mask in select(max(wait, 0.0)):
                conn = key.data
                if mask & selectors.EVENT_WRITE:
                    self._connected(conn)
                else:
                    self._readable(conn)

    def _readable(self, conn: Conn) -> None:
        try:
            data, ancillary, _, _ = conn.sock.recvmsg(RECV_BYTES, 64)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._fail(conn, errno.errorcode.get(exc.errno or 0, type(exc).__name__))
            return
        received = arrival_time(ancillary)
        if not data:
            self._fail(conn, "closed by server")
            return
        try:
            self._body(conn, data, received)
        except ProtocolError as exc:
            self.parse_errors += 1
            self._fail(conn, f"framing: {exc}")

    def _body(self, conn: Conn, data: bytes, received: float) -> None:
        if conn.head is None:
            parsed = parse_head(conn.buffer + data)
            if parsed is None:
                conn.buffer += data
                return
            conn.head, data = parsed
            conn.buffer = b""
            if conn.head.status != 200:
                self._fail(conn, f"http {conn.head.status}")
                return
            conn.decoder = ChunkedDecoder() if conn.head.chunked else None
        if conn.decoder is not None:
            data = conn.decoder.feed(data)
            if conn.decoder.done:
                self._fail(conn, "stream ended")
        for event in conn.parser.feed(data):
            self._event(conn, event.type, event.data, received)

    def _event(self, conn: Conn, kind: str, data: str, received: float) -> None:
        self.by_type[kind] += 1
        if self.measuring:
            conn.window_events += 1
            self.window_events += 1
        try:
            json.loads(data)
        except ValueError:
            self.parse_errors += 1
            return
        if kind == "full_snapshot":
            conn.snapshot_seq = sequence_of(data)
            conn.last_seq = conn.snapshot_seq if conn.snapshot_seq is not None else -1
        elif kind == "panel_update":
            seq = sequence_of(data)
            if seq is not None and seq > conn.last_seq:
                conn.seqs += 1
                conn.last_seq = seq
                written = self.written_at.get(seq)
                if written is not None:
                    self.latencies_seconds.append(received - written)

    # -- ending -------------------------------------------------------------------------------

    def _fail(self, conn: Conn, reason: str, registered: bool = True) -> None:
        if not conn.open:
            return
        self.errors[reason] += 1
        self._close(conn, registered)

    def _close(self, conn: Conn, registered: bool = True) -> None:
        conn.open = False
        if registered:
            self.selector.unregister(conn.sock)
        conn.sock.close()

    def close(self) -> None:
        for conn in self.conns:
            if conn.open:
                self._close(conn)
        self.selector.close()

    @property
    def open_count(self) -> int:
        return sum(1 for conn in self.conns if conn.open)
