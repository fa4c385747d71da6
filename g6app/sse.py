"""Server-Sent Events wire format: byte-exact encoding of events, comments and retry hints.

Pure: takes values, returns bytes. It knows nothing about panels, clients or sockets; the
stream module decides what to send and when.
"""

from __future__ import annotations

import json
from typing import Any

CONTENT_TYPE = "text/event-stream; charset=utf-8"


def compact_json(data: Any) -> str:
    """JSON on one line (newlines inside strings are escaped), UTF-8 characters kept as they are."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _field(name: str, value: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError(f"SSE {name} field must be one line")
    return f"{name}: {value}\n"


def encode_event(
    event: str, data: Any, event_id: str | None = None, retry_ms: int | None = None
) -> bytes:
    """One event: ``event:``, optional ``id:`` and ``retry:``, one ``data:`` line, blank line."""
    parts = [_field("event", event)]
    if event_id is not None:
        parts.append(_field("id", event_id))
    if retry_ms is not None:
        parts.append(f"retry: {int(retry_ms)}\n")
    parts.append(_field("data", compact_json(data)))
    parts.append("\n")
    return "".join(parts).encode("utf-8")


def encode_retry(retry_ms: int) -> bytes:
    """A lone reconnect hint, sent once at the start of a stream."""
    return f"retry: {int(retry_ms)}\n\n".encode("ascii")


def encode_comment(text: str) -> bytes:
    """A comment line (ignored by clients): keeps proxies and dead-peer detection honest."""
    return b"".join(f": {line}\n".encode() for line in text.splitlines() or [""]) + b"\n"
