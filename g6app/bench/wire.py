"""The bench client's view of a response head; framing and SSE parsing are g6app.sseclient's.

The bench reads a head from whatever the first ``recv`` calls brought, so it needs the body
bytes that came with it; everything after the head is parsed by the same pure code as watch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..sseclient import ChunkedDecoder, ProtocolError, SSEParser
from ..sseclient import parse_head as parse_head_lines

__all__ = ["ChunkedDecoder", "ProtocolError", "ResponseHead", "SSEParser", "parse_head"]


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
    status, headers = parse_head_lines(buffer[:end])
    return ResponseHead(status, headers), buffer[end + 4:]
