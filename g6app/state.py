"""Panel states and the differences between them.

A State is an immutable snapshot of the eight panels with their hashes and state id; a view
restricts it to a panel filter. Pure: no clocks, no I/O, no knowledge of clients or the wire.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .hashing import canonical_json, panel_hash, state_id

CLIP_NOTE = "… {hidden} more lines not shown (event size limit)"


@dataclass(frozen=True)
class State:
    """One published state of this worker; ``seq`` orders states within the worker only."""

    seq: int
    cycle: int | None
    panels: Mapping[str, Mapping[str, Any]]
    hashes: Mapping[str, str]
    id: str
    _view_ids: dict[tuple[str, ...], str] = field(default_factory=dict, compare=False, repr=False)

    def view_id(self, keys: tuple[str, ...]) -> str:
        """State id of the panels in ``keys`` only (the full id when keys is every panel)."""
        if keys == tuple(self.hashes):
            return self.id
        cached = self._view_ids.get(keys)
        if cached is None:
            cached = state_id({key: self.hashes[key] for key in keys})
            self._view_ids[keys] = cached
        return cached


def make_state(
    seq: int, cycle: int | None, panels: Mapping[str, Mapping[str, Any]], max_panel_bytes: int
) -> tuple[State, list[str]]:
    """Hash the panels (clipping any larger than the cap first); also return the clipped keys."""
    kept: dict[str, dict[str, Any]] = {}
    clipped: list[str] = []
    for key, panel in panels.items():
        visible = {"title": str(panel["title"]), "lines": [str(line) for line in panel["lines"]]}
        if panel_bytes(visible) > max_panel_bytes:
            visible = clip_panel(visible, max_panel_bytes)
            clipped.append(key)
        kept[key] = visible
    hashes = {key: panel_hash(panel) for key, panel in kept.items()}
    return State(seq, cycle, kept, hashes, state_id(hashes)), clipped


def panel_bytes(panel: Mapping[str, Any]) -> int:
    """Encoded size of a panel's visible content."""
    return len(canonical_json(panel))


def clip_panel(panel: Mapping[str, Any], max_bytes: int) -> dict[str, Any]:
    """Drop trailing lines until the panel fits, ending with a line that says how many went."""
    lines = list(panel["lines"])
    title = panel["title"]
    for keep in range(len(lines) - 1, -1, -1):
        note = CLIP_NOTE.format(hidden=len(lines) - keep)
        candidate = {"title": title, "lines": lines[:keep] + [note]}
        if panel_bytes(candidate) <= max_bytes:
            return candidate
    return {"title": title[:64], "lines": [CLIP_NOTE.format(hidden=len(lines))]}


def changed_keys(
    old_hashes: Mapping[str, str] | None, new: State, keys: Sequence[str]
) -> list[str]:
    """Keys (in panel order) whose hash differs; every key when there is no old state."""
    if old_hashes is None:
        return list(keys)
    return [key for key in keys if old_hashes.get(key) != new.hashes[key]]
