"""Unit tests for g6app.hashing: canonical JSON, panel hashes and state ids."""

from __future__ import annotations

import copy
import hashlib
import json

import pytest

from g6app.hashing import STATE_ID_HEX_CHARS, canonical_json, panel_hash, state_id
from g6app.panels import build_panels
from tests.support import status

PANEL = {"title": "Indices \u2014 live", "lines": ["NIFTY  19,980.40  +0.10%", "\u20b9 1"]}


def design_hash(panel: dict) -> str:
    """The panel hash exactly as DESIGN.md words it, computed independently."""
    visible = {"title": panel["title"], "lines": list(panel["lines"])}
    text = json.dumps(visible, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def panel_hashes(document: dict) -> dict[str, str]:
    return {key: panel_hash(panel) for key, panel in build_panels(document).items()}


def test_hashing_canonical_json_ignores_key_order():
    """Two mappings with the same items in different order encode to the same bytes."""
    a = {"b": 1, "a": {"y": [1, 2], "x": None}}
    b = {"a": {"x": None, "y": [1, 2]}, "b": 1}
    assert canonical_json(a) == canonical_json(b) == b'{"a":{"x":null,"y":[1,2]},"b":1}'


def test_hashing_canonical_json_keeps_utf8():
    """Non-ASCII characters are encoded as UTF-8 bytes, not \\u escapes."""
    assert canonical_json({"t": "\u2014"}) == '{"t":"\u2014"}'.encode()
    assert canonical_json({"t": "\u2014"}) == b'{"t":"\xe2\x80\x94"}'


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_hashing_canonical_json_refuses_nan(value):
    """NaN and infinities are not JSON and are refused."""
    with pytest.raises(ValueError):
        canonical_json({"x": value})


def test_hashing_panel_hash_matches_design():
    """panel_hash is the SHA-256 of the canonical {title, lines} JSON, as any client computes it."""
    assert panel_hash(PANEL) == design_hash(PANEL)
    assert len(panel_hash(PANEL)) == 64


def test_hashing_panel_hash_ignores_extra_keys():
    """Only title and lines count: key and hash fields do not change the hash."""
    extended = {**PANEL, "key": "indices", "hash": "0" * 64}
    assert panel_hash(extended) == panel_hash(PANEL)


def test_hashing_panel_hash_changes_with_content():
    """A different line or title gives a different hash."""
    assert panel_hash({**PANEL, "lines": PANEL["lines"] + ["x"]}) != panel_hash(PANEL)
    assert panel_hash({**PANEL, "title": "Other"}) != panel_hash(PANEL)


def test_hashing_state_id_stable_for_reordered_maps():
    """The same panel-hash map in any order gives the same short id."""
    hashes = {"header": "a" * 64, "indices": "b" * 64, "alerts": "c" * 64}
    reordered = dict(reversed(list(hashes.items())))
    assert state_id(hashes) == state_id(reordered)
    assert len(state_id(hashes)) == STATE_ID_HEX_CHARS
    assert int(state_id(hashes), 16) >= 0  # hex


def test_hashing_state_id_differs_for_different_maps():
    """Changing one panel hash, or dropping a panel, changes the id."""
    hashes = {"header": "a" * 64, "indices": "b" * 64}
    assert state_id(hashes) != state_id({**hashes, "indices": "d" * 64})
    assert state_id(hashes) != state_id({"header": "a" * 64})


def test_hashing_int_and_float_render_the_same():
    """A status with 1 where another has 1.0 gives the same panel hashes."""
    doc = status.load()
    as_float = copy.deepcopy(doc)
    doc["resources"]["cpu"] = 7
    as_float["resources"]["cpu"] = 7.0
    doc["indices"]["NIFTY"]["ltp"] = 19980
    as_float["indices"]["NIFTY"]["ltp"] = 19980.0
    assert panel_hashes(doc) == panel_hashes(as_float)
    as_float["resources"]["cpu"] = 7.5
    assert panel_hashes(doc)["resources"] != panel_hashes(as_float)["resources"]


def test_hashing_negative_zero_renders_as_zero():
    """-0.0 in a status hashes the same as 0.0."""
    doc = status.load()
    negative = copy.deepcopy(doc)
    doc["indices"]["NIFTY"]["change"] = 0.0
    negative["indices"]["NIFTY"]["change"] = -0.0
    assert panel_hashes(doc) == panel_hashes(negative)


def test_hashing_nan_renders_as_absent():
    """A NaN in a status renders (and hashes) like the field being absent."""
    nan = status.load()
    absent = copy.deepcopy(nan)
    nan["resources"]["cpu"] = float("nan")
    del absent["resources"]["cpu"]
    hashes = panel_hashes(nan)
    assert hashes == panel_hashes(absent)
    assert hashes["resources"] != panel_hashes(status.load())["resources"]
