"""Unit tests for g6app.panels: status documents in, titled lines of text out."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest

from g6app import formatting, panels
from g6app.panels import DASH, PANEL_KEYS, PANEL_TITLES, build_panels, status_cycle

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FIXTURE_NAMES = (
    "runtime_status_simulator_open",
    "runtime_status_simulator_closed",
    "runtime_status_orchestrator_pytest_mock",
)


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def text_of(result: dict[str, dict]) -> str:
    return "\n".join(line for p in result.values() for line in p["lines"])


def leaf_paths(node: Any, path: tuple = ()) -> list[tuple]:
    """Paths of every scalar, null or empty container in a JSON document."""
    if isinstance(node, dict) and node:
        return [p for k, v in node.items() for p in leaf_paths(v, path + (k,))]
    if isinstance(node, list) and node:
        return [p for i, v in enumerate(node) for p in leaf_paths(v, path + (i,))]
    return [path]


def set_at(doc: Any, path: tuple, value: Any) -> None:
    for step in path[:-1]:
        doc = doc[step]
    doc[path[-1]] = value


def map_numbers(node: Any, fn) -> Any:
    """A copy of node with fn applied to every int and float (booleans left alone)."""
    if isinstance(node, dict):
        return {k: map_numbers(v, fn) for k, v in node.items()}
    if isinstance(node, list):
        return [map_numbers(v, fn) for v in node]
    if isinstance(node, (int, float)) and not isinstance(node, bool):
        return fn(node)
    return node


def index_line(result: dict[str, dict], name: str) -> str:
    return next(line for line in result["indices"]["lines"] if line.split()[0] == name)


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_build_panels_fixture_renders_all_panels(name: str) -> None:
    """Every fixture yields the eight panels, in order, with their normal titles and content."""
    result = build_panels(load(name))
    assert tuple(result) == PANEL_KEYS
    for key, panel in result.items():
        assert set(panel) == {"title", "lines"}
        assert panel["title"] == PANEL_TITLES[key]
        assert panel["lines"] and all(line.strip() for line in panel["lines"])
    assert len(result["indices"]["lines"]) == 4


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_build_panels_every_fixture_field_rendered(name: str) -> None:
    """Replacing any one leaf of a fixture with a unique marker makes that marker visible."""
    doc = load(name)
    paths = leaf_paths(doc)
    assert len(paths) > 20
    for n, path in enumerate(paths):
        mutated = copy.deepcopy(doc)
        marker = f"zq{n}x"
        set_at(mutated, path, marker)
        assert marker in text_of(build_panels(mutated)), f"field {'.'.join(map(str, path))} not rendered"


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_build_panels_fixture_names_rendered(name: str) -> None:
    """Every name used as a key (indices, max pain, sinks, health, links) appears in the text."""
    doc = load(name)
    text = text_of(build_panels(doc))
    for section in ("indices", "indices_info", "indices_detail", "sinks", "health", "links"):
        for key in doc.get(section) or ():
            assert key in text
    for key in (doc.get("analytics") or {}).get("max_pain", {}):
        assert key in text


def test_build_panels_simulator_open_formatting() -> None:
    """Prices, changes, sizes and durations have their fixed formats."""
    result = build_panels(load("runtime_status_simulator_open"))
    assert index_line(result, "NIFTY") == (
        "NIFTY       19,980.40   +0.10%  ok  age 3s  legs 100,542  dq 94.47% 0 issues")
    assert "FINNIFTY    19,951.88   -0.06%" in index_line(result, "FINNIFTY")
    assert result["resources"]["lines"] == ["cpu 7.3%", "memory 2.08 GiB"]
    assert "uptime 11h 08m 25s" in result["header"]["lines"][1]
    assert "max pain NIFTY  19,250" in result["analytics"]["lines"]
    assert result["alerts"]["lines"] == ["no alerts"]


def test_build_panels_absent_is_dash_zero_is_zero() -> None:
    """An absent or null field shows the dash; a real zero shows a zero."""
    doc = load("runtime_status_simulator_open")
    del doc["indices"]["NIFTY"]["ltp"], doc["indices_detail"]["NIFTY"]["ltp"]
    doc["indices_detail"]["NIFTY"]["legs"] = None
    doc["indices"]["BANKNIFTY"]["ltp"] = 0
    doc["indices_detail"]["BANKNIFTY"]["ltp"] = 0
    doc["indices"]["BANKNIFTY"]["change"] = 0
    doc["indices_detail"]["BANKNIFTY"]["legs"] = 0
    del doc["analytics"]
    doc["resources"] = {"cpu": 0, "rss": 0}
    result = build_panels(doc)
    assert index_line(result, "NIFTY").split()[1] == DASH
    assert f"legs {DASH}" in index_line(result, "NIFTY")
    assert index_line(result, "BANKNIFTY").split()[1:3] == ["0.00", "0.00%"]
    assert "legs 0" in index_line(result, "BANKNIFTY")
    assert result["analytics"]["lines"] == [f"PCR {DASH}", f"max pain {DASH}"]
    assert result["resources"]["lines"] == ["cpu 0.0%", "memory 0.0 MiB"]


def test_build_panels_empty_status_all_dashes() -> None:
    """An empty document renders every panel with dashes, not errors."""
    result = build_panels({})
    assert all(p["title"] == PANEL_TITLES[k] for k, p in result.items())
    assert result["header"]["lines"] == [f"cycle {DASH}  last run {DASH}"]
    assert result["alerts"]["lines"] == [f"alerts {DASH}"]
    assert result["resources"]["lines"] == [f"cpu {DASH}", f"memory {DASH}"]


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_build_panels_int_and_float_render_identically(name: str) -> None:
    """A document whose integral numbers are ints renders exactly like one where they are floats."""
    doc = load(name)
    as_floats = map_numbers(doc, float)
    as_ints = map_numbers(doc, lambda x: int(x) if float(x).is_integer() else x)
    assert build_panels(as_floats) == build_panels(as_ints) == build_panels(doc)


def test_build_panels_negative_zero_renders_as_zero() -> None:
    """-0.0 and values that round to zero never render with a minus sign."""
    doc = map_numbers(load("runtime_status_simulator_open"), lambda x: -0.0)
    doc["indices"]["NIFTY"]["change"] = -0.001
    text = text_of(build_panels(doc))
    assert "-0" not in text
    assert index_line(build_panels(doc), "NIFTY").split()[1:3] == ["0.00", "0.00%"]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 10**400])
def test_build_panels_non_finite_is_dash(bad: Any) -> None:
    """NaN, infinities and unrepresentable numbers render as the dash."""
    doc = load("runtime_status_simulator_open")
    doc["indices"]["NIFTY"]["ltp"] = doc["indices_detail"]["NIFTY"]["ltp"] = bad
    doc["resources"] = {"cpu": bad, "rss": bad}
    doc["app"]["uptime_sec"] = bad
    result = build_panels(doc)
    assert index_line(result, "NIFTY").split()[1] == DASH
    assert result["resources"]["lines"] == [f"cpu {DASH}", f"memory {DASH}"]
    assert f"uptime {DASH}" in result["header"]["lines"][1]
    words = set(text_of(result).lower().replace("%", " ").split())
    assert not words & {"nan", "inf", "-inf", "infinity"}


def test_build_panels_bool_is_not_a_number() -> None:
    """A boolean where a number is expected renders as a boolean, never as 1 or 0."""
    doc = load("runtime_status_simulator_open")
    doc["indices"]["NIFTY"]["ltp"] = doc["indices_detail"]["NIFTY"]["ltp"] = True
    doc["indices"]["NIFTY"]["change"] = False
    doc["resources"]["cpu"] = True
    result = build_panels(doc)
    assert index_line(result, "NIFTY").split()[1:3] == ["true", "false"]
    assert result["resources"]["lines"][0] == "cpu true"


def test_build_panels_string_number_rendered_escaped() -> None:
    """A string where a number is expected renders as that string, its newlines escaped."""
    doc = load("runtime_status_simulator_open")
    doc["indices"]["NIFTY"]["ltp"] = doc["indices_detail"]["NIFTY"]["ltp"] = "n/a\nx"
    assert "n/a\\nx" in index_line(build_panels(doc), "NIFTY")


@pytest.mark.parametrize("evil", ["a\nb", "a\r\nb", "a\u2028b", "a\x85b", "a\x0bb", "a\ud800b", "x" * 5000])
def test_build_panels_lines_are_single_safe_lines(evil: str) -> None:
    """Every line is one line of encodable text, whatever strings the document holds."""
    doc = load("runtime_status_simulator_open")
    for n, path in enumerate(leaf_paths(doc)):
        set_at(doc, path, f"{evil}{n}")
    doc["alerts"] = [evil, {"level": evil, "message": evil, evil: evil}]
    doc["links"][evil] = evil
    for panel in build_panels(doc).values():
        assert isinstance(panel["title"], str) and panel["title"] != "ERROR"
        for line in panel["lines"]:
            assert isinstance(line, str) and len(line.splitlines()) == 1
            assert len(line) < 1000
            line.encode("utf-8")


JUNK = [None, True, 0, -0.0, math.nan, "s\n", [], [1, {"a": 2}], {}, {"x": [None]}, 10**400]


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_build_panels_unexpected_types_do_not_fail(name: str) -> None:
    """Any node of a fixture replaced by a value of the wrong type still renders every panel."""
    doc = load(name)
    paths = leaf_paths(doc) + [p[:-1] for p in leaf_paths(doc) if len(p) > 1] + [(k,) for k in doc]
    for path in dict.fromkeys(paths):
        for junk in JUNK:
            mutated = copy.deepcopy(doc)
            set_at(mutated, path, junk)
            result = build_panels(mutated)
            errors = {k: p["lines"] for k, p in result.items() if p["title"] == "ERROR"}
            assert not errors, (path, junk, errors)
            json.dumps(result, ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize("status", [[], "text", 3, [{"cycle": 1}]])
def test_build_panels_non_mapping_status_renders_dashes(status: Any) -> None:
    """A status that is not an object renders dashes rather than eight error panels."""
    result = build_panels(status)
    assert all(p["title"] == PANEL_TITLES[k] for k, p in result.items())


def test_build_panels_alerts_strings_and_dicts() -> None:
    """Alerts are counted and each is shown, whether a string or a dict of fields."""
    doc = load("runtime_status_simulator_open")
    doc["alerts"] = ["feed lag", {"level": "WARN", "time": "10:01", "message": "dq low", "index": "NIFTY"}]
    assert build_panels(doc)["alerts"]["lines"] == [
        "2 alerts", "feed lag", "[WARN] 10:01 dq low index=NIFTY"]


def test_build_panels_long_lists_are_capped() -> None:
    """A very long alert list is cut with a line saying how many were left out."""
    doc = {"alerts": [f"a{i}" for i in range(formatting.MAX_ITEMS + 7)]}
    lines = build_panels(doc)["alerts"]["lines"]
    assert lines[0] == f"{formatting.MAX_ITEMS + 7} alerts"
    assert lines[-1] == "\u2026 7 more" and len(lines) == formatting.MAX_ITEMS + 2


def test_build_panels_failing_builder_isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    """A builder that raises turns only its own panel into ERROR, naming the problem."""
    doc = load("runtime_status_simulator_open")
    baseline = build_panels(doc)

    def boom(status: Any) -> list[str]:
        raise ValueError("bad pcr\n/secret/path.py")

    monkeypatch.setitem(panels._BUILDERS, "analytics", boom)
    result = build_panels(doc)
    expected_line = "analytics: ValueError: bad pcr\\n/secret/path.py"
    assert result["analytics"] == {"title": "ERROR", "lines": [expected_line]}
    assert {k: v for k, v in result.items() if k != "analytics"} == {
        k: v for k, v in baseline.items() if k != "analytics"}


def test_build_panels_none_is_waiting() -> None:
    """No status yet: every panel keeps its title and says it is waiting."""
    result = build_panels(None)
    assert tuple(result) == PANEL_KEYS
    assert all(p == {"title": PANEL_TITLES[k], "lines": ["waiting for status"]} for k, p in result.items())


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_build_panels_all_str(name: str) -> None:
    """Titles and lines are plain str and the result is canonical-JSON serialisable."""
    result = build_panels(load(name))
    for panel in result.values():
        assert type(panel["title"]) is str and all(type(line) is str for line in panel["lines"])
        assert not any("\n" in line or "\r" in line for line in panel["lines"])
    json.dumps(result, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize(("name", "cycle"), [
    ("runtime_status_simulator_open", 40105),
    ("runtime_status_simulator_closed", 1),
    ("runtime_status_orchestrator_pytest_mock", 1),
])
def test_status_cycle_both_shapes(name: str, cycle: int) -> None:
    """The cycle comes from loop.cycle or from the top-level cycle."""
    assert status_cycle(load(name)) == cycle


@pytest.mark.parametrize("status", [
    None, {}, [], "x", {"cycle": "7"}, {"cycle": True}, {"cycle": 7.0}, {"loop": []},
    {"loop": {"cycle": None}}, {"loop": {"cycle": False}, "cycle": 3},
])
def test_status_cycle_junk_is_none(status: Any) -> None:
    """A missing or non-integer cycle gives None."""
    assert status_cycle(status) is None


def test_status_cycle_loop_without_cycle_falls_back() -> None:
    """A loop section without a cycle defers to the top-level cycle."""
    assert status_cycle({"loop": {"last_run": "t"}, "cycle": 5}) == 5
