"""Incremental HTTP/1.1 response and SSE parsing for the bench client: bytes in, events out.

Pure and allocation-light: each parser is fed whatever one ``recv`` returned and keeps only the
unfinished tail. It knows nothing of sockets, timing or the g6app event vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class WireError(Exception):
    """The bytes on a connection do not follow HTTP/1.1 chunked framing or the SSE format."""


@dataclass
class ResponseHead:
    """Status line and headers of a response (header names lower-cased)."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def chunked(self) -> bool:
        return "chunked" in self.headers.get("transfer-encoding", "").lower()


def parse_head(buffer: bytes) -> tuple[ResponseHead, bytes] | None:
    """The head and the body bytes after it, or None while the head is still incomplete."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = buffer[:end].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise WireError(f"bad status line {lines[0][:80]!r}")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise WireError(f"bad header line {line[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    return ResponseHead(int(parts[1]), headers), buffer[end + 4:]


class ChunkedDecoder:
    """Decodes ``Transfer-Encoding: chunked`` incrementally; ``done`` after the last chunk."""

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
                    raise WireError("chunk not followed by CRLF")
                pos += 2
                self._crlf_due = False
                continue
            end = buffer.find(b"\r\n", pos)
            if end < 0:
                if size - pos > 64:
                    raise WireError("chunk size line too long")
                break
            line = buffer[pos:end].split(b";", 1)[0].strip()
            try:
                self._remaining = int(line, 16)
            except ValueError:
                raise WireError(f"bad chunk size {line[:20]!r}") from None
            pos = end + 2
            if self._remaining == 0:
                self.done = True
        self._buffer = buffer[pos:]
        return b"".join(out)


@dataclass
class SSEEvent:
    type: str
    data: str
    id: str | None = None


class SSEParser:
    """Splits an SSE byte stream into events per the HTML spec's rules (LF, CRLF or CR lines)."""

    def __init__(self) -> None:
        self._tail = b""
        self._data: list[str] = []
        self._type = ""
        self._id: str | None = None
        self.comments = 0

    def feed(self, data: bytes) -> list[SSEEvent]:
        buffer = self._tail + data if self._tail else data
        if b"\r" in buffer:
            if buffer.endswith(b"\r"):  # the \n of a CRLF may still come
                buffer, self._tail = buffer[:-1], b"\r"
            else:
                self._tail = b""
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        else:
            self._tail = b""
        lines = buffer.split(b"\n")
        self._tail = lines.pop() + self._tail
        found = []
        for raw in lines:
            event = self._line(raw)
            if event is not None:
                found.append(event)
        return found

    def _line(self, raw: bytes) -> SSEEvent | None:
        if not raw:
            if not self._data:
                self._type = ""
                return None
            event = SSEEvent(self._type or "message", "\n".join(self._data), self._id)
            self._data, self._type = [], ""
            return event
        if raw[:1] == b":":
            self.comments += 1
            return None
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise WireError("event line is not UTF-8") from None
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._type = value
        elif name == "id":
            self._id = value
        return None
