"""Status document -> the eight dashboard panels, as plain titles and lines of text.

Owns the layout and number formatting of every panel and the isolation of one failing builder.
Pure and stdlib-only: it reads no files, hashes nothing and knows nothing of HTTP or streams.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

PANEL_KEYS: tuple[str, ...] = (
    "header", "indices", "analytics", "alerts", "links", "perfstore", "storage", "resources",
)
PANEL_TITLES: dict[str, str] = {
    "header": "Overview", "indices": "Indices", "analytics": "Analytics", "alerts": "Alerts",
    "links": "Links", "perfstore": "Performance", "storage": "Storage & Health",
    "resources": "Resources",
}
DASH = "\u2014"
WAITING = "waiting for status"
MAX_TEXT = 120  # characters of one value before it is clipped
MAX_ITEMS = 50  # entries of one list (alerts, links, ...) before "... N more"
# Characters that would break a line or a UTF-8 encoding: C0/C1 controls, line/paragraph
# separators (str.splitlines splits on them) and lone surrogates (json.loads accepts them).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


# --- formatting: every value goes through one of these -------------------------------------

def _text(v: Any) -> str:
    """Any value as one safe line: None -> dash, bool -> true/false, containers as JSON."""
    if v is None:
        return DASH
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int) or isinstance(v, float) and v.is_integer():
        return _num(v, 0, sep=False)
    if isinstance(v, float):
        return _num(v, 4, sep=False).rstrip("0").rstrip(".")
    if not isinstance(v, str):
        try:
            v = json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=repr)
        except (TypeError, ValueError, RecursionError):
            v = type(v).__name__
    return _clip(_UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode(), v))


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "\u2026"


def _num(v: Any, decimals: int, *, unit: str = "", sign: bool = False, sep: bool = True) -> str:
    """A number with fixed decimals (1 == 1.0, -0.0 -> 0, NaN/inf -> dash) and its unit;
    anything else as plain text, without the unit."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return _text(v)
    try:
        x = float(v)
    except OverflowError:
        return DASH
    if not math.isfinite(x):
        return DASH
    x = round(x, decimals) + 0.0  # "+ 0.0" turns -0.0 into 0.0
    return _clip(format(x, f"{'+' if sign and x else ''}{',' if sep else ''}.{decimals}f") + unit)


def _dur(v: Any) -> str:
    """Seconds as a readable uptime: 0.1s, 42.0s, 1m 05s, 11h 08m 25s, 3d 04h 00m."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return _text(v)
    if abs(v) > 1e12 or not math.isfinite(v):
        return DASH
    if v < 60:
        return _num(v, 1, unit="s")
    m, s = divmod(int(v), 60)
    h, m = divmod(m, 60)
    d, h = divmod(h, 24)
    return f"{d}d {h:02d}h {m:02d}m" if d else f"{h}h {m:02d}m {s:02d}s" if h else f"{m}m {s:02d}s"


def _bytes(v: Any) -> str:
    """A size in bytes as MiB (1 decimal) or, from 1 GiB, GiB (2 decimals)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return _text(v)
    if abs(v) > 2**80 or not math.isfinite(v):
        return DASH
    if abs(v) >= 2**30:
        return _num(v / 2**30, 2, unit=" GiB")
    return _num(v / 2**20, 1, unit=" MiB")


def _flag(v: Any) -> str:
    return ("yes" if v else "no") if isinstance(v, bool) else _text(v)


def _get(obj: Any, *path: str) -> Any:
    """obj[path[0]][path[1]]..., or None where a step is missing or not a mapping."""
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _items(obj: Any) -> list[tuple[str, Any]]:
    return [(str(k), v) for k, v in obj.items()] if isinstance(obj, Mapping) else []


def _has(obj: Any, key: str) -> bool:
    return isinstance(obj, Mapping) and key in obj


def _joined(*texts: str) -> str:
    """The distinct non-dash texts joined by " / " (one source disagreeing with another shows)."""
    seen = [t for i, t in enumerate(texts) if t != DASH and t not in texts[:i]]
    return " / ".join(seen) or DASH


def _capped(lines: list[str]) -> list[str]:
    if len(lines) <= MAX_ITEMS:
        return lines
    return lines[:MAX_ITEMS] + [f"\u2026 {len(lines) - MAX_ITEMS} more"]


def _mapping_lines(label: str, obj: Any, render: Callable[[Any], str], plural: str) -> list[str]:
    """One line per entry of a mapping; a dash when absent, the raw value when not a mapping."""
    if obj is None or obj == {}:
        return [f"{plural} {DASH}"]
    if not isinstance(obj, Mapping):
        return [f"{plural} {_text(obj)}"]
    return _capped([f"{label} {_text(k)}  {render(v)}" for k, v in _items(obj)])


# --- one pure builder per panel -------------------------------------------------------------

def _header(s: Mapping[str, Any]) -> list[str]:
    app, loop, lines = _get(s, "app"), _get(s, "loop"), []
    if app is not None:
        name, version = _text(_get(app, "name")), _text(_get(app, "version"))
        lines.append(f"{name} {version}  host {_text(_get(app, 'host'))}"
                     f"  pid {_num(_get(app, 'pid'), 0, sep=False)}")
        lines.append(f"started {_text(_get(app, 'started_at'))}"
                     f"  uptime {_dur(_get(app, 'uptime_sec'))}")
    if _has(s, "market"):
        m = s["market"]
        lines.append(f"market {_text(_get(m, 'status'))}  {_text(_get(m, 'segment'))}")
    cycle = _get(loop, "cycle") if _has(loop, "cycle") else _get(s, "cycle")
    last = _get(loop, "last_run") if _has(loop, "last_run") else _get(s, "timestamp")
    lines.append(f"cycle {_num(cycle, 0, sep=False)}  last run {_text(last)}")
    if _has(s, "config"):
        c = s["config"]
        lines.append(f"config env {_text(_get(c, 'env'))}"
                     f"  output {_text(_get(c, 'output_level'))}")
    if _has(s, "readiness_ok") or _has(s, "readiness_reason"):
        lines.append(f"ready {_flag(s.get('readiness_ok'))}"
                     f"  {_text(s.get('readiness_reason'))}")
    return lines


def _index_names(s: Mapping[str, Any]) -> list[str]:
    raw = _get(s, "indices")
    names = [n if isinstance(n, str) else _text(n) for n in raw] if isinstance(
        raw, (list, Mapping)) else []
    for section in ("indices_info", "indices_detail"):
        names += [k for k, _ in _items(_get(s, section))]
    return list(dict.fromkeys(names))


def _indices(s: Mapping[str, Any]) -> list[str]:
    names = _index_names(s)
    rows = [(n, _get(s, "indices", n), _get(s, "indices_info", n), _get(s, "indices_detail", n))
            for n in names]
    show_legs = any(_has(d, "legs") for *_, d in rows)
    show_dq = any(_has(d, "dq") for *_, d in rows)
    show_options = any(_has(i, "options") for _, _, i, _ in rows)
    lines = []
    for name, quote, info, detail in rows:
        ltp = _joined(*(_num(_get(x, "ltp"), 2) for x in (quote, info, detail)))
        age = _joined(_num(_get(detail, "age_sec"), 0, unit="s"), _num(_get(detail, "age"), 0, unit="s"))
        line = (f"{_text(name):<10} {ltp:>10} {_num(_get(quote, 'change'), 2, unit='%', sign=True):>8}"
                f"  {_text(_get(detail, 'status'))}  age {age}")
        if show_legs:
            line += f"  legs {_num(_get(detail, 'legs'), 0)}"
        if show_dq:
            dq = _get(detail, "dq")
            line += (f"  dq {_num(_get(dq, 'score_percent'), 2, unit='%')}"
                     f" {_num(_get(dq, 'issues_total'), 0)} issues")
        if show_options:
            line += f"  options {_num(_get(info, 'options'), 0)}"
        lines.append(line)
    return _capped(lines) or [f"indices {DASH}"]


def _analytics(s: Mapping[str, Any]) -> list[str]:
    a = _get(s, "analytics")
    return [f"PCR {_num(_get(a, 'pcr'), 2)}"] + _mapping_lines(
        "max pain", _get(a, "max_pain"), lambda v: _num(v, 0), "max pain")


def _alert(a: Any) -> str:
    if not isinstance(a, Mapping):
        return _text(a)
    known = ("level", "time", "message")
    parts = [f"[{_text(a.get('level'))}]"] if "level" in a else []
    parts += [_text(a[k]) for k in ("time", "message") if k in a]
    parts += [f"{_text(k)}={_text(v)}" for k, v in _items(a) if k not in known]
    return " ".join(parts) or "{}"


def _alerts(s: Mapping[str, Any]) -> list[str]:
    alerts = _get(s, "alerts")
    if alerts is None:
        return [f"alerts {DASH}"]
    if not isinstance(alerts, list):
        return [f"alerts {_text(alerts)}"]
    if not alerts:
        return ["no alerts"]
    head = f"{len(alerts)} alert" + ("" if len(alerts) == 1 else "s")
    return [head] + _capped([_alert(a) for a in alerts])


def _links(s: Mapping[str, Any]) -> list[str]:
    links = _get(s, "links")
    lines = ["no links"] if links == {} else _mapping_lines("link", links, _text, "links")
    p = _get(s, "provider")
    line = f"provider {_text(_get(p, 'name'))}  latency {_num(_get(p, 'latency_ms'), 1, unit=' ms')}"
    if _has(p, "auth"):
        auth = p["auth"]
        line += f"  auth valid {_flag(_get(auth, 'valid'))} expiry {_text(_get(auth, 'expiry'))}"
    return lines + [line]


_ORCH_PERF = ("elapsed", "interval", "sleep_sec", "success_rate_pct", "options_last_cycle",
              "options_per_minute", "api_success_rate")


def _perfstore(s: Mapping[str, Any]) -> list[str]:
    lines = []
    loop = _get(s, "loop")
    if loop is not None or not any(_has(s, k) for k in _ORCH_PERF):
        avg = _num(_get(loop, "avg_cycle_ms"), 0, unit=" ms")
        p95 = _num(_get(loop, "p95_cycle_ms"), 0, unit=" ms")
        last = _num(_get(loop, "last_duration"), 3, unit=" s")
        lines.append(f"cycle avg {avg}  p95 {p95}  last {last}")
        ok = _num(_get(loop, "success_rate"), 1, unit="%")
        target = _num(_get(loop, "target_interval"), 1, unit=" s")
        nxt = _num(_get(loop, "next_run_in_sec"), 1, unit=" s")
        lines.append(f"success {ok}  target {target}  next in {nxt}")
    if any(_has(s, k) for k in _ORCH_PERF):
        elapsed = _num(s.get("elapsed"), 3, unit=" s")
        interval = _num(s.get("interval"), 1, unit=" s")
        lines.append(f"elapsed {elapsed}  interval {interval}"
                     f"  sleep {_num(s.get('sleep_sec'), 3, unit=' s')}")
        ok = _num(s.get("success_rate_pct"), 1, unit="%")
        lines.append(f"success {ok}  api {_num(s.get('api_success_rate'), 1, unit='%')}")
        options = _num(s.get("options_last_cycle"), 0)
        lines.append(f"options {options} last cycle"
                     f"  {_num(s.get('options_per_minute'), 1, unit='/min')}")
    return lines


def _component(v: Any) -> str:
    """A sink or health entry: a bare status, or a mapping of its fields."""
    if not isinstance(v, Mapping):
        return _text(v)
    parts = [_text(v["status"])] if "status" in v else []
    parts += [f"{_text(k).replace('_', ' ')} {_text(x)}" for k, x in _items(v) if k != "status"]
    return "  ".join(parts) or DASH


def _storage(s: Mapping[str, Any]) -> list[str]:
    return (_mapping_lines("sink", _get(s, "sinks"), _component, "sinks")
            + _mapping_lines("health", _get(s, "health"), _component, "health"))


def _resources(s: Mapping[str, Any]) -> list[str]:
    r = _get(s, "resources")
    mem_mb = _get(s, "memory_mb")
    if isinstance(mem_mb, (int, float)) and not isinstance(mem_mb, bool):
        mem_mb = mem_mb * 2**20
    cpu = _joined(_num(_get(r, "cpu"), 1, unit="%"), _num(_get(s, "cpu_pct"), 1, unit="%"))
    return [f"cpu {cpu}", f"memory {_joined(_bytes(_get(r, 'rss')), _bytes(mem_mb))}"]


_BUILDERS: dict[str, Callable[[Mapping[str, Any]], list[str]]] = {
    "header": _header, "indices": _indices, "analytics": _analytics, "alerts": _alerts,
    "links": _links, "perfstore": _perfstore, "storage": _storage, "resources": _resources,
}


def build_panels(status: Mapping[str, Any] | None) -> dict[str, dict]:
    """key -> {"title", "lines"} in PANEL_KEYS order; a failing builder yields an ERROR panel."""
    panels: dict[str, dict] = {}
    for key in PANEL_KEYS:
        if status is None:
            panels[key] = {"title": PANEL_TITLES[key], "lines": [WAITING]}
            continue
        try:
            lines = [str(line) for line in _BUILDERS[key](status)]
            panels[key] = {"title": PANEL_TITLES[key], "lines": lines}
        except Exception as exc:  # noqa: BLE001 -- one bad panel must not take down the others
            panels[key] = {"title": "ERROR", "lines": [_text(f"{key}: {type(exc).__name__}: {exc}")]}
    return panels


def status_cycle(status: Mapping | None) -> int | None:
    """loop.cycle (simulator) or top-level cycle (orchestrator); None if absent or not an int."""
    loop = _get(status, "loop")
    cycle = _get(loop, "cycle") if _has(loop, "cycle") else _get(status, "cycle")
    return cycle if isinstance(cycle, int) and not isinstance(cycle, bool) else None
