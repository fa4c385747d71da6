"""Unit tests for g6app.state and g6app.events: states, clipping, diffs and encoded events."""

from __future__ import annotations

import copy
import json
from typing import Any

from g6app import events
from g6app.hashing import panel_hash, state_id
from g6app.panels import PANEL_KEYS, build_panels, status_cycle
from g6app.state import CLIP_NOTE, changed_keys, make_state, panel_bytes
from tests.support import status

BIG = 1 << 20


def parse(blob: bytes) -> list[dict[str, Any]]:
    """Parse an SSE byte blob strictly: every block is name/value lines, data is JSON."""
    assert blob.endswith(b"\n\n"), blob[-40:]
    out = []
    for block in blob.decode("utf-8").split("\n\n")[:-1]:
        fields: dict[str, Any] = {"raw_bytes": len(block.encode()) + 2}
        for line in block.split("\n"):
            name, sep, value = line.partition(": ")
            assert sep and name in ("event", "id", "retry", "data") and name not in fields, line
            fields[name] = json.loads(value) if name == "data" else value
        out.append(fields)
    return out


def state_of(document: dict | None, seq: int = 1, cap: int = BIG):
    return make_state(seq, status_cycle(document), build_panels(document), cap)


def changed_doc(ltp: float = 20000.0) -> dict:
    return status.with_ltp(status.load(), "NIFTY", ltp)


def test_state_make_state_hashes_and_id():
    """Each panel's hash is panel_hash of its content and the id digests the hash map."""
    state, clipped = state_of(status.load())
    assert clipped == []
    assert tuple(state.panels) == PANEL_KEYS
    assert state.hashes == {k: panel_hash(p) for k, p in state.panels.items()}
    assert state.id == state_id(state.hashes)
    assert state.cycle == 40105 and state.seq == 1


def test_state_make_state_clips_oversized_panel():
    """A panel over the cap is cut with a visible note, hashed as clipped and reported."""
    panels = build_panels(status.load())
    panels["alerts"] = {"key": "alerts", "title": "Alerts",
                        "lines": [f"alert number {i:04d} with some text" for i in range(200)]}
    cap = 600
    state, clipped = make_state(1, 7, panels, cap)
    assert clipped == ["alerts"]
    alerts = state.panels["alerts"]
    assert panel_bytes(alerts) <= cap
    hidden = 200 - (len(alerts["lines"]) - 1)
    assert alerts["lines"][-1] == CLIP_NOTE.format(hidden=hidden)
    assert 0 < hidden < 200
    assert alerts["lines"][:-1] == panels["alerts"]["lines"][:len(alerts["lines"]) - 1]
    assert state.hashes["alerts"] == panel_hash(alerts)
    assert state.panels["indices"]["lines"] == panels["indices"]["lines"]  # others untouched


def test_state_changed_keys():
    """Only keys whose hash differs are reported, in panel order; all when there is no old state."""
    old, _ = state_of(status.load())
    new, _ = state_of(changed_doc(), seq=2)
    assert changed_keys(old.hashes, new, PANEL_KEYS) == ["indices"]
    assert changed_keys(old.hashes, new, ("header", "alerts")) == []
    assert changed_keys(None, new, ("alerts", "indices")) == ["alerts", "indices"]
    assert changed_keys(old.hashes, old, PANEL_KEYS) == []


def test_state_view_id_for_filters():
    """A view's id is the digest of its panels' hashes; the full view's id is the state id."""
    state, _ = state_of(status.load())
    assert state.view_id(PANEL_KEYS) == state.id
    keys = ("indices", "alerts")
    assert state.view_id(keys) == state_id({k: state.hashes[k] for k in keys})
    assert state.view_id(keys) != state.id
    other, _ = state_of(changed_doc(), seq=2)
    assert other.view_id(("alerts",)) == state.view_id(("alerts",))
    assert other.view_id(keys) != state.view_id(keys)


def test_events_hello_carries_held_id():
    """hello names the current view in its data and, as id:, only what the client holds."""
    state, _ = state_of(status.load())
    [fresh] = parse(events.hello(state, PANEL_KEYS, "1.2.3", None))
    assert fresh["event"] == "hello" and "id" not in fresh
    data = fresh["data"]
    assert data["id"] == state.id and data["version"] == "1.2.3" and data["cycle"] == 40105
    assert data["schema_version"] == events.SCHEMA_VERSION
    assert data["panels"] == [{"key": k, "hash": state.hashes[k]} for k in PANEL_KEYS]
    [resumed] = parse(events.hello(state, ("alerts",), "v", "feedbeef"))
    assert resumed["id"] == "feedbeef"
    assert resumed["data"]["id"] == state.view_id(("alerts",))


def test_events_snapshot_encoding():
    """A full_snapshot carries every requested panel with hash, title and lines, id: = view id."""
    state, _ = state_of(status.load())
    keys = ("indices", "alerts")
    [event] = parse(events.snapshot(state, keys, BIG))
    assert event["event"] == "full_snapshot" and event["id"] == state.view_id(keys)
    data = event["data"]
    assert data["id"] == state.view_id(keys) and data["cycle"] == 40105
    assert list(data["panels"]) == list(keys)
    for key in keys:
        entry = data["panels"][key]
        assert entry == {"hash": state.hashes[key], **state.panels[key]}
        assert panel_hash(entry) == entry["hash"]
    assert "partial" not in data


def test_events_update_only_changed_panels():
    """panel_update lists exactly the panels that changed, with id: = the new view id."""
    old, _ = state_of(status.load())
    new, _ = state_of(changed_doc(), seq=2)
    [event] = parse(events.update(old, new, PANEL_KEYS, BIG))
    assert event["event"] == "panel_update" and event["id"] == new.id
    [entry] = event["data"]["updates"]
    assert entry["key"] == "indices" and entry["hash"] == new.hashes["indices"]
    assert entry["lines"] == new.panels["indices"]["lines"]
    assert event["data"]["id"] == new.id


def test_events_update_without_change_is_empty():
    """No visible change (or a filter excluding the change) encodes to nothing."""
    old, _ = state_of(status.load())
    new, _ = state_of(changed_doc(), seq=2)
    assert events.update(old, old, PANEL_KEYS, BIG) == b""
    assert events.update(old, new, ("alerts", "header"), BIG) == b""


def test_events_heartbeat_error_bye():
    """heartbeat, error and bye parse as SSE with the right data and id:."""
    state, _ = state_of(status.load())
    [hb] = parse(events.heartbeat(state, ("alerts",)))
    assert hb["event"] == "heartbeat" and hb["id"] == state.view_id(("alerts",))
    assert hb["data"] == {"cycle": 40105, "id": state.view_id(("alerts",)), "unchanged": True}
    [err] = parse(events.error("status file missing", state.id))
    assert err == {"raw_bytes": err["raw_bytes"], "event": "error", "id": state.id,
                   "data": {"message": "status file missing", "recoverable": True}}
    [bye] = parse(events.bye("shutdown", state.id, 4500))
    assert bye["event"] == "bye" and bye["id"] == state.id and bye["retry"] == "4500"
    assert bye["data"] == {"reason": "shutdown"}
    [plain] = parse(events.bye("max_lifetime", None))
    assert "id" not in plain and "retry" not in plain


def check_split(blob: bytes, cap: int, final_id: str, first: str) -> list[dict]:
    parts = parse(blob)
    assert len(parts) > 1
    assert all(p["raw_bytes"] <= cap for p in parts)
    assert events.split_sizes(blob) == [p["raw_bytes"] for p in parts]
    assert parts[0]["event"] == first
    assert all(p["event"] == "panel_update" for p in parts[1:])
    for part in parts[:-1]:
        assert "id" not in part and part["data"]["partial"] is True
    assert parts[-1]["id"] == final_id and "partial" not in parts[-1]["data"]
    return parts


def test_events_snapshot_split_under_cap():
    """A snapshot too large for one event is split; only the last part carries id:."""
    cap = 1500
    state, clipped = state_of(status.load(), cap=cap - events.ENVELOPE_BYTES)
    assert clipped == []
    parts = check_split(events.snapshot(state, PANEL_KEYS, cap), cap, state.id, "full_snapshot")
    got = dict(parts[0]["data"]["panels"])
    for part in parts[1:]:
        got.update({u.pop("key"): u for u in part["data"]["updates"]})
    assert list(got) == list(PANEL_KEYS)
    assert {k: v["hash"] for k, v in got.items()} == state.hashes


def test_events_update_split_under_cap():
    """A large update is split the same way, covering every changed panel once."""
    cap = 1500
    doc = status.load()
    changed = copy.deepcopy(doc)
    for name in changed["indices"]:
        changed["indices"][name]["ltp"] += 1
    changed["loop"]["cycle"] += 1
    changed["resources"]["cpu"] = 55.5
    changed["analytics"]["pcr"] = 0.5
    changed["alerts"] = [{"message": f"alert {i}", "level": "warn"} for i in range(5)]
    old, _ = state_of(doc, cap=cap - events.ENVELOPE_BYTES)
    new, _ = state_of(changed, seq=2, cap=cap - events.ENVELOPE_BYTES)
    expected = changed_keys(old.hashes, new, PANEL_KEYS)
    parts = check_split(events.update(old, new, PANEL_KEYS, cap), cap, new.id, "panel_update")
    sent = [u["key"] for p in parts for u in p["data"]["updates"]]
    assert sent == expected and len(expected) >= 4


def test_events_clipped_panel_fits_one_event():
    """A panel clipped to the hub's cap (event cap minus envelope) travels in one event under the cap."""
    cap = 2048
    doc = status.load()
    doc["alerts"] = [{"message": "x" * 80 + f" {i}", "level": "critical"} for i in range(100)]
    state, clipped = state_of(doc, cap=cap - events.ENVELOPE_BYTES)
    assert clipped == ["alerts"]
    blob = events.snapshot(state, ("alerts",), cap)
    [event] = parse(blob)
    assert event["raw_bytes"] <= cap and event["id"] == state.view_id(("alerts",))
    assert event["data"]["panels"]["alerts"]["lines"][-1].endswith("(event size limit)")
