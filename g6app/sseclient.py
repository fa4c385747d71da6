"""Client side of the wire: HTTP response head, chunked framing and SSE parsing, incrementally.

Pure: bytes in, values out, in whatever pieces the network delivers them. No sockets, clocks or
terminals here (the watch command owns the connection), and nothing about panels (see board).
The SSE rules follow the HTML standard's event-stream parsing, including ``id`` persistence.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

MAX_HEAD_BYTES = 64 * 1024
MAX_CHUNK_LINE_BYTES = 64  # a hex size and an optional extension; anything longer is garbage
MAX_LINE_CHARS = 8 * 1024 * 1024  # far above the server's event cap; stops a runaway line


class ProtocolError(Exception):
    """The server sent something that is not HTTP/1.1 or not an event stream."""


@dataclass(frozen=True)
class Event:
    """One dispatched event; ``id`` is its own ``id:`` field, None when it had none."""

    type: str
    data: str
    id: str | None = None
    last_event_id: str = ""


class SSEParser:
    """Feed decoded body bytes; get complete events. ``last_event_id`` persists across events.

    Invalid UTF-8 is replaced, as browsers do; with ``strict`` it is a ProtocolError instead
    (the bench counts such streams as broken)."""

    def __init__(self, last_event_id: str = "", strict: bool = False):
        self._errors = "strict" if strict else "replace"
        self._tail = b""
        self._started = False
        self._type = ""
        self._data: list[str] = []
        self._id: str | None = None
        self.last_event_id = last_event_id
        self.retry_ms: int | None = None
        self.comments = 0

    def feed(self, chunk: bytes) -> list[Event]:
        """Split on LF, CRLF or CR in bytes (cheap: most lines are never decoded twice), keeping
        the unfinished tail; decode each complete line."""
        buffer = self._tail + chunk if self._tail else chunk
        if not self._started and buffer:
            if len(buffer) < 3 and b"\xef\xbb\xbf".startswith(buffer):
                self._tail = buffer  # maybe the start of a byte order mark
                return []
            self._started = True
            buffer = buffer.removeprefix(b"\xef\xbb\xbf")
        carry = b""
        if b"\r" in buffer:
            if buffer.endswith(b"\r"):  # the \n of a CRLF may still come
                buffer, carry = buffer[:-1], b"\r"
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = buffer.split(b"\n")
        self._tail = lines.pop() + carry
        if len(self._tail) > MAX_LINE_CHARS:
            raise ProtocolError("event stream line too long")
        events: list[Event] = []
        for raw in lines:
            if raw[:1] == b":":
                self.comments += 1
                continue
            try:
                line = raw.decode("utf-8", self._errors)
            except UnicodeDecodeError:
                raise ProtocolError("event stream is not UTF-8") from None
            self._line(line, events)
        return events

    def _line(self, line: str, events: list[Event]) -> None:
        if not line:
            self._dispatch(events)
            return
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._type = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._id = value
            self.last_event_id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self.retry_ms = int(value)

    def _dispatch(self, events: list[Event]) -> None:
        if self._data:
            events.append(Event(self._type or "message", "\n".join(self._data), self._id,
                                self.last_event_id))
        self._type, self._data, self._id = "", [], None


class ChunkedDecoder:
    """HTTP/1.1 ``Transfer-Encoding: chunked`` body decoding; ``done`` after the last chunk.

    Walks the buffer by position and keeps only the unfinished tail, so feeding it one
    ``recv`` at a time from thousands of connections (the bench) stays cheap."""

    def __init__(self) -> None:
        self._buffer = b""
        self._remaining = 0  # payload bytes still due in the current chunk
        self._crlf_due = False
        self.done = False

    def feed(self, data: bytes) -> bytes:
        """Return the payload bytes that ``data`` completes (possibly empty)."""
        buffer = self._buffer + data if self._buffer else data
        out = []
        pos = 0
        size = len(buffer)
        while pos < size and not self.done:
            if self._remaining:
                take = min(self._remaining, size - pos)
                out.append(buffer[pos:pos + take])
                pos += take
                self._remaining -= take
                self._crlf_due = self._remaining == 0
                continue
            if self._crlf_due:
                if size - pos < 2:
                    break
                if buffer[pos:pos + 2] != b"\r\n":
                    raise ProtocolError("chunk not followed by CRLF")
                pos += 2
                self._crlf_due = False
                continue
            end = buffer.find(b"\r\n", pos)
            if end < 0:
                if size - pos > MAX_CHUNK_LINE_BYTES:
                    raise ProtocolError("chunk size line too long")
                break
            line = buffer[pos:end].split(b";", 1)[0].strip()
            try:
                self._remaining = int(line, 16)
            except ValueError:
                raise ProtocolError(f"bad chunk size {line[:20]!r}") from None
            pos = end + 2
            if self._remaining == 0:
                self.done = True
        self._buffer = buffer[pos:]
        return b"".join(out)


def parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    """Status code and lower-cased headers of a response head (without the blank line)."""
    status_line, *lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ProtocolError(f"not an HTTP/1.x response: {status_line[:40]!r}")
    headers: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon:
            raise ProtocolError(f"bad header line {line[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


class Backoff:
    """Exponential reconnect delays with jitter (half to all of the current ceiling)."""

    def __init__(self, base_seconds: float = 1.0, max_seconds: float = 30.0,
                 rand: Callable[[], float] = random.random):
        self.base_seconds = base_seconds
        self.max_seconds = max_seconds
        self.rand = rand
        self.attempt = 0

    def next_seconds(self) -> float:
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** self.attempt)
        self.attempt += 1
        return ceiling / 2 + self.rand() * ceiling / 2

    def reset(self) -> None:
        self.attempt = 0
