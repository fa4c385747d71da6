"""Status document -> the eight dashboard panels, as plain titles and lines of text.

Owns the layout of every panel (which field goes where, at what precision) and the isolation
of one failing builder; how a single value reads is formatting's business.
Pure and stdlib-only: it reads no files, hashes nothing and knows nothing of HTTP or streams.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from . import formatting as fmt
from .formatting import DASH

PANEL_KEYS: tuple[str, ...] = (
    "header", "indices", "analytics", "alerts", "links", "perfstore", "storage", "resources",
)
PANEL_TITLES: dict[str, str] = {
    "header": "Overview", "indices": "Indices", "analytics": "Analytics", "alerts": "Alerts",
    "links": "Links", "perfstore": "Performance", "storage": "Storage & Health",
    "resources": "Resources",
}
WAITING = "waiting for status"


def _header(s: Mapping[str, Any]) -> list[str]:
    app, loop, lines = fmt.get(s, "app"), fmt.get(s, "loop"), []
    if app is not None:
        name, version = fmt.text(fmt.get(app, "name")), fmt.text(fmt.get(app, "version"))
        lines.append(f"{name} {version}  host {fmt.text(fmt.get(app, 'host'))}"
                     f"  pid {fmt.num(fmt.get(app, 'pid'), 0, sep=False)}")
        lines.append(f"started {fmt.text(fmt.get(app, 'started_at'))}"
                     f"  uptime {fmt.duration(fmt.get(app, 'uptime_sec'))}")
    if fmt.has(s, "market"):
        m = s["market"]
        lines.append(f"market {fmt.text(fmt.get(m, 'status'))}  {fmt.text(fmt.get(m, 'segment'))}")
    cycle = fmt.get(loop, "cycle") if fmt.has(loop, "cycle") else fmt.get(s, "cycle")
    last = fmt.get(loop, "last_run") if fmt.has(loop, "last_run") else fmt.get(s, "timestamp")
    lines.append(f"cycle {fmt.num(cycle, 0, sep=False)}  last run {fmt.text(last)}")
    if fmt.has(s, "config"):
        c = s["config"]
        lines.append(f"config env {fmt.text(fmt.get(c, 'env'))}"
                     f"  output {fmt.text(fmt.get(c, 'output_level'))}")
    if fmt.has(s, "readiness_ok") or fmt.has(s, "readiness_reason"):
        lines.append(f"ready {fmt.flag(s.get('readiness_ok'))}"
                     f"  {fmt.text(s.get('readiness_reason'))}")
    return lines


def _index_names(s: Mapping[str, Any]) -> list[str]:
    raw = fmt.get(s, "indices")
    names = [n if isinstance(n, str) else fmt.text(n) for n in raw] if isinstance(
        raw, (list, Mapping)) else []
    for section in ("indices_info", "indices_detail"):
        names += [k for k, _ in fmt.items(fmt.get(s, section))]
    return list(dict.fromkeys(names))


def _indices(s: Mapping[str, Any]) -> list[str]:
    names = _index_names(s)
    rows = [(n, fmt.get(s, "indices", n), fmt.get(s, "indices_info", n), fmt.get(s, "indices_detail", n))
            for n in names]
    show_legs = any(fmt.has(d, "legs") for *_, d in rows)
    show_dq = any(fmt.has(d, "dq") for *_, d in rows)
    show_options = any(fmt.has(i, "options") for _, _, i, _ in rows)
    lines = []
    for name, quote, info, detail in rows:
        ltp = fmt.joined(*(fmt.num(fmt.get(x, "ltp"), 2) for x in (quote, info, detail)))
        age = fmt.joined(fmt.num(fmt.get(detail, "age_sec"), 0, unit="s"),
                         fmt.num(fmt.get(detail, "age"), 0, unit="s"))
        change = fmt.num(fmt.get(quote, "change"), 2, unit="%", sign=True)
        line = (f"{fmt.text(name):<10} {ltp:>10} {change:>8}"
                f"  {fmt.text(fmt.get(detail, 'status'))}  age {age}")
        if show_legs:
            line += f"  legs {fmt.num(fmt.get(detail, 'legs'), 0)}"
        if show_dq:
            dq = fmt.get(detail, "dq")
            line += (f"  dq {fmt.num(fmt.get(dq, 'score_percent'), 2, unit='%')}"
                     f" {fmt.num(fmt.get(dq, 'issues_total'), 0)} issues")
        if show_options:
            line += f"  options {fmt.num(fmt.get(info, 'options'), 0)}"
        lines.append(line)
    return fmt.capped(lines) or [f"indices {DASH}"]


def _analytics(s: Mapping[str, Any]) -> list[str]:
    a = fmt.get(s, "analytics")
    return [f"PCR {fmt.num(fmt.get(a, 'pcr'), 2)}"] + fmt.mapping_lines(
        "max pain", fmt.get(a, "max_pain"), lambda v: fmt.num(v, 0), "max pain")


def _alert(a: Any) -> str:
    if not isinstance(a, Mapping):
        return fmt.text(a)
    known = ("level", "time", "message")
    parts = [f"[{fmt.text(a.get('level'))}]"] if "level" in a else []
    parts += [fmt.text(a[k]) for k in ("time", "message") if k in a]
    parts += [f"{fmt.text(k)}={fmt.text(v)}" for k, v in fmt.items(a) if k not in known]
    return " ".join(parts) or "{}"


def _alerts(s: Mapping[str, Any]) -> list[str]:
    alerts = fmt.get(s, "alerts")
    if alerts is None:
        return [f"alerts {DASH}"]
    if not isinstance(alerts, list):
        return [f"alerts {fmt.text(alerts)}"]
    if not alerts:
        return ["no alerts"]
    head = f"{len(alerts)} alert" + ("" if len(alerts) == 1 else "s")
    return [head] + fmt.capped([_alert(a) for a in alerts])


def _links(s: Mapping[str, Any]) -> list[str]:
    links = fmt.get(s, "links")
    lines = ["no links"] if links == {} else fmt.mapping_lines("link", links, fmt.text, "links")
    p = fmt.get(s, "provider")
    latency = fmt.num(fmt.get(p, "latency_ms"), 1, unit=" ms")
    line = f"provider {fmt.text(fmt.get(p, 'name'))}  latency {latency}"
    if fmt.has(p, "auth"):
        auth = p["auth"]
        line += f"  auth valid {fmt.flag(fmt.get(auth, 'valid'))} expiry {fmt.text(fmt.get(auth, 'expiry'))}"
    return lines + [line]


_ORCH_PERF = ("elapsed", "interval", "sleep_sec", "success_rate_pct", "options_last_cycle",
              "options_per_minute", "api_success_rate")


def _perfstore(s: Mapping[str, Any]) -> list[str]:
    lines = []
    loop = fmt.get(s, "loop")
    if loop is not None or not any(fmt.has(s, k) for k in _ORCH_PERF):
        avg = fmt.num(fmt.get(loop, "avg_cycle_ms"), 0, unit=" ms")
        p95 = fmt.num(fmt.get(loop, "p95_cycle_ms"), 0, unit=" ms")
        last = fmt.num(fmt.get(loop, "last_duration"), 3, unit=" s")
        lines.append(f"cycle avg {avg}  p95 {p95}  last {last}")
        ok = fmt.num(fmt.get(loop, "success_rate"), 1, unit="%")
        target = fmt.num(fmt.get(loop, "target_interval"), 1, unit=" s")
        nxt = fmt.num(fmt.get(loop, "next_run_in_sec"), 1, unit=" s")
        lines.append(f"success {ok}  target {target}  next in {nxt}")
    if any(fmt.has(s, k) for k in _ORCH_PERF):
        elapsed = fmt.num(s.get("elapsed"), 3, unit=" s")
        interval = fmt.num(s.get("interval"), 1, unit=" s")
        lines.append(f"elapsed {elapsed}  interval {interval}"
                     f"  sleep {fmt.num(s.get('sleep_sec'), 3, unit=' s')}")
        ok = fmt.num(s.get("success_rate_pct"), 1, unit="%")
        lines.append(f"success {ok}  api {fmt.num(s.get('api_success_rate'), 1, unit='%')}")
        options = fmt.num(s.get("options_last_cycle"), 0)
        lines.append(f"options {options} last cycle"
                     f"  {fmt.num(s.get('options_per_minute'), 1, unit='/min')}")
    return lines


def _component(v: Any) -> str:
    """A sink or health entry: a bare status, or a mapping of its fields."""
    if not isinstance(v, Mapping):
        return fmt.text(v)
    parts = [fmt.text(v["status"])] if "status" in v else []
    parts += [f"{fmt.text(k).replace('_', ' ')} {fmt.text(x)}" for k, x in fmt.items(v) if k != "status"]
    return "  ".join(parts) or DASH


def _storage(s: Mapping[str, Any]) -> list[str]:
    return (fmt.mapping_lines("sink", fmt.get(s, "sinks"), _component, "sinks")
            + fmt.mapping_lines("health", fmt.get(s, "health"), _component, "health"))


def _resources(s: Mapping[str, Any]) -> list[str]:
    r = fmt.get(s, "resources")
    mem_mb = fmt.get(s, "memory_mb")
    if isinstance(mem_mb, (int, float)) and not isinstance(mem_mb, bool):
        mem_mb = mem_mb * 2**20
    cpu = fmt.joined(fmt.num(fmt.get(r, "cpu"), 1, unit="%"), fmt.num(fmt.get(s, "cpu_pct"), 1, unit="%"))
    return [f"cpu {cpu}", f"memory {fmt.joined(fmt.byte_size(fmt.get(r, 'rss')), fmt.byte_size(mem_mb))}"]


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
            panels[key] = {"title": "ERROR", "lines": [fmt.text(f"{key}: {type(exc).__name__}: {exc}")]}
    return panels


def status_cycle(status: Mapping | None) -> int | None:
    """loop.cycle (simulator) or top-level cycle (orchestrator); None if absent or not an int."""
    loop = fmt.get(status, "loop")
    cycle = fmt.get(loop, "cycle") if fmt.has(loop, "cycle") else fmt.get(status, "cycle")
    return cycle if isinstance(cycle, int) and not isinstance(cycle, bool) else None
