"""What a stream client holds: panels applied from g6app events, each verified by its hash.

Pure: events (already parsed by sseclient) in, panel state out; the caller passes the time.
It tracks the resume id (only a transfer's final event moves it), the cycle, and counters a
person or a test can read (snapshots, resumes, hash mismatches). Rendering lives in watch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .hashing import panel_hash
from .sseclient import Event


@dataclass
class Panel:
    title: str
    lines: list[str]
    hash: str
    verified: bool
    changed_at: float


@dataclass
class Board:
    keys: tuple[str, ...]
    panels: dict[str, Panel] = field(default_factory=dict)
    resume_id: str | None = None
    cycle: int | None = None
    in_transfer: bool = False
    source_error: str | None = None
    bye_reason: str | None = None
    resync_reason: str | None = None
    last_change_at: float | None = None
    connections: int = 0
    resumes: int = 0
    snapshots: int = 0
    updates: int = 0
    mismatches: int = 0

    @property
    def complete(self) -> bool:
        """Every wanted panel is here and no transfer is half-applied."""
        return not self.in_transfer and all(key in self.panels for key in self.keys)

    @property
    def verified_count(self) -> int:
        return sum(1 for panel in self.panels.values() if panel.verified)

    def apply(self, event: Event, now: float) -> list[str]:
        """Apply one event; return the keys whose visible content changed."""
        try:
            data: Any = json.loads(event.data)
        except ValueError:
            return []
        if not isinstance(data, dict):
            return []
        changed = self._apply(event.type, event.id, data, now)
        if isinstance(data.get("cycle"), int):
            self.cycle = data["cycle"]
        if event.type in ("full_snapshot", "panel_update"):
            self.in_transfer = bool(data.get("partial"))
        if event.id is not None and not data.get("partial") and event.type != "resync_required":
            self.resume_id = event.id
        return changed

    def _apply(self, kind: str, event_id: str | None, data: dict[str, Any],
               now: float) -> list[str]:
        if kind == "hello":
            self.connections += 1
            self.bye_reason = self.resync_reason = None
            # hello carries an id only when the server resumes from the state we named.
            self.resumes += 1 if event_id is not None else 0
        elif kind == "full_snapshot":
            self.snapshots += 1
            return self._put(data.get("panels", {}).items(), now)
        elif kind == "panel_update":
            self.updates += 1
            return self._put(((u.get("key"), u) for u in data.get("updates", [])), now)
        elif kind == "error":
            self.source_error = str(data.get("message"))
        elif kind == "bye":
            self.bye_reason = str(data.get("reason"))
        elif kind == "resync_required":
            self.resync_reason = str(data.get("reason"))
            self.resume_id = None
        return []

    def _put(self, items, now: float) -> list[str]:
        changed = []
        for key, entry in items:
            if key not in self.keys or not isinstance(entry, dict):
                continue
            title, lines, digest = entry.get("title"), entry.get("lines"), entry.get("hash")
            held = self.panels.get(key)
            if held is not None and held.hash == digest:
                continue
            verified = panel_hash({"title": title, "lines": lines}) == digest
            self.mismatches += 0 if verified else 1
            self.panels[key] = Panel(str(title), [str(line) for line in lines or []], str(digest),
                                     verified, now)
            self.last_change_at = now
            self.source_error = None
            changed.append(key)
        return changed
