"""The g6app event vocabulary: hello, full_snapshot, panel_update, heartbeat, error, bye.

Turns states into encoded SSE bytes, splitting a large transfer across events so none exceeds
the size cap. Pure and deterministic; caching and fan-out are the hub's business.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .sse import encode_event
from .state import State, changed_keys

SCHEMA_VERSION = 1
# Room kept for the event name, id line and JSON envelope around a single panel.
ENVELOPE_BYTES = 512


def hello(state: State, keys: tuple[str, ...], version: str, held_id: str | None) -> bytes:
    """First event of every stream; its id is what the client already holds (none if new)."""
    data = {
        "schema_version": SCHEMA_VERSION,
        "version": version,
        "cycle": state.cycle,
        "id": state.view_id(keys),
        "panels": [{"key": key, "hash": state.hashes[key]} for key in keys],
    }
    return encode_event("hello", data, held_id)


def _entry(state: State, key: str) -> dict[str, Any]:
    panel = state.panels[key]
    return {"key": key, "hash": state.hashes[key], "title": panel["title"], "lines": panel["lines"]}


def snapshot(state: State, keys: tuple[str, ...], max_event_bytes: int) -> bytes:
    """The whole state for ``keys``: one full_snapshot, continued by panel_updates if too big."""
    return _transfer("full_snapshot", state, keys, list(keys), max_event_bytes)


def update(
    old: State | None, new: State, keys: tuple[str, ...], max_event_bytes: int
) -> bytes:
    """panel_update(s) carrying what differs from ``old`` to ``new``; b"" when nothing does."""
    changed = changed_keys(old.hashes if old else None, new, keys)
    if not changed:
        return b""
    return _transfer("panel_update", new, keys, changed, max_event_bytes)


def _payload(kind: str, state: State, keys: tuple[str, ...], chunk: list[str], last: bool) -> Any:
    data: dict[str, Any] = {"cycle": state.cycle, "id": state.view_id(keys)}
    if kind == "full_snapshot":
        data = {"schema_version": SCHEMA_VERSION, **data}
        data["panels"] = {key: {k: v for k, v in _entry(state, key).items() if k != "key"}
                          for key in chunk}
    else:
        data["updates"] = [_entry(state, key) for key in chunk]
    if not last:
        data["partial"] = True
    return data


def _transfer(
    kind: str, state: State, keys: tuple[str, ...], send: list[str], max_event_bytes: int
) -> bytes:
    """Pack panels greedily into events under the cap; only the final event carries ``id:``."""
    target = state.view_id(keys)
    chunks: list[list[str]] = []
    for key in send:
        if chunks:
            trial = chunks[-1] + [key]
            name = kind if len(chunks) == 1 else "panel_update"
            data = _payload(name, state, keys, trial, False)
            if len(encode_event(name, data, target)) <= max_event_bytes:
                chunks[-1] = trial
                continue
        chunks.append([key])
    out = []
    for index, chunk in enumerate(chunks):
        last = index == len(chunks) - 1
        name = kind if index == 0 else "panel_update"
        out.append(encode_event(name, _payload(name, state, keys, chunk, last),
                                target if last else None))
    return b"".join(out)


def heartbeat(state: State, keys: tuple[str, ...]) -> bytes:
    """Nothing visible changed for a while: proof of life with the current id."""
    target = state.view_id(keys)
    return encode_event("heartbeat", {"cycle": state.cycle, "id": target, "unchanged": True}, target)


def error(message: str, held_id: str | None) -> bytes:
    """The source failed; the client keeps what it has."""
    return encode_event("error", {"message": message, "recoverable": True}, held_id)


def resync_required(reason: str, held_id: str | None) -> bytes:
    """The server cannot bring this client up to date by a diff."""
    return encode_event("resync_required", {"reason": reason}, held_id)


def bye(reason: str, held_id: str | None, retry_ms: int | None = None) -> bytes:
    """The stream ends now; ``retry_ms`` spreads reconnects after a shutdown."""
    return encode_event("bye", {"reason": reason}, held_id, retry_ms)


def split_sizes(blob: bytes) -> Sequence[int]:
    """Sizes of the events in an encoded blob (for the event size histogram)."""
    return [len(part) + 2 for part in blob.split(b"\n\n") if part]
