"""Canonical hashes: what makes two panels (or two states) "the same".

A panel hash is the hex SHA-256 of the canonical JSON of ``{"title", "lines"}``; a state id is a
short digest of a panel-hash map. Pure functions, no I/O; formatting of values is panels' job.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

STATE_ID_HEX_CHARS = 16


def canonical_json(obj: Any) -> bytes:
    """UTF-8 JSON with sorted keys and no spaces; NaN and infinities are refused (not JSON)."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def panel_hash(panel: Mapping[str, Any]) -> str:
    """Hash of what a person sees of a panel: its title and lines, nothing else."""
    visible = {"title": panel["title"], "lines": list(panel["lines"])}
    return hashlib.sha256(canonical_json(visible)).hexdigest()


def state_id(hashes: Mapping[str, str]) -> str:
    """Short digest of a panel-hash map: equal content gives an equal id on every machine."""
    return hashlib.sha256(canonical_json(dict(hashes))).hexdigest()[:STATE_ID_HEX_CHARS]
