"""Client side of the wire: HTTP response head, chunked framing and SSE parsing, incrementally.

Pure: bytes in, values out, in whatever pieces the network delivers them. No sockets, clocks or
terminals here (the watch command owns the connection), and nothing about panels (see board).
The SSE rules follow the HTML standard's event-stream parsing, including ``id`` persistence.
"""

from __future__ import annotations

import codecs
import random
import re
from collections.abc import Callable
from dataclasses import dataclass

MAX_HEAD_BYTES = 64 * 1024
MAX_LINE_CHARS = 8 * 1024 * 1024  # far above the server's event cap; stops a runaway line
_LINE_END = re.compile(r"\r\n|\r|\n")


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
    """Feed decoded body bytes; get complete events. ``last_event_id`` persists across events."""

    def __init__(self, last_event_id: str = ""):
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._pending = ""
        self._started = False
        self._type = ""
        self._data: list[str] = []
        self._id: str | None = None
        self.last_event_id = last_event_id
        self.retry_ms: int | None = None
        self.comments = 0

    def feed(self, chunk: bytes) -> list[Event]:
        text = self._decoder.decode(chunk)
        if not self._started and text:
            self._started = True
            text = text.removeprefix("\ufeff")
        buf = self._pending + text
        events: list[Event] = []
        start = 0
        while (match := _LINE_END.search(buf, start)) is not None:
            if match.group() == "\r" and match.end() == len(buf):
                break  # maybe the first half of "\r\n": wait for the next byte
            self._line(buf[start:match.start()], events)
            start = match.end()
        self._pending = buf[start:]
        if len(self._pending) > MAX_LINE_CHARS:
            raise ProtocolError("event stream line too long")
        return events

    def _line(self, line: str, events: list[Event]) -> None:
        if not line:
            self._dispatch(events)
            return
        if line.startswith(":"):
            self.comments += 1
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
    """HTTP/1.1 ``Transfer-Encoding: chunked`` body decoding; ``done`` after the last chunk."""

    def __init__(self) -> None:
        self._buf = b""
        self._remaining = 0  # body bytes left in the current chunk, then its CRLF
        self._in_chunk = False
        self.done = False

    def feed(self, data: bytes) -> bytes:
        self._buf += data
        out = []
        while not self.done:
            if self._in_chunk:
                if len(self._buf) < self._remaining + 2:
                    take = min(len(self._buf), self._remaining)
                    out.append(self._buf[:take])
                    self._buf, self._remaining = self._buf[take:], self._remaining - take
                    break
                out.append(self._buf[:self._remaining])
                if self._buf[self._remaining:self._remaining + 2] != b"\r\n":
                    raise ProtocolError("chunk not followed by CRLF")
                self._buf, self._in_chunk = self._buf[self._remaining + 2:], False
                continue
            line, sep, rest = self._buf.partition(b"\r\n")
            if not sep:
                if len(self._buf) > 1024:
                    raise ProtocolError("chunk size line too long")
                break
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise ProtocolError("bad chunk size") from None
            self._buf = rest
            if size == 0:
                self.done = True
            else:
                self._remaining, self._in_chunk = size, True
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
        if colon:
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
