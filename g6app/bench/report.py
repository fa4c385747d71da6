"""Turns what a bench run counted into its report: a flat dict, printed as text or JSON.

Pure: numbers in, numbers out. Percentiles are nearest-rank over every sample, no estimation.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from typing import Any

PERCENTILES = (50, 90, 99)


def percentile(sorted_values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile of already sorted values; None when there are none."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def latency_summary(latencies_seconds: Sequence[float], prefix: str) -> dict[str, Any]:
    """``{prefix}_p50_ms`` ... ``{prefix}_max_ms`` and the sample count."""
    values = sorted(latencies_seconds)
    out: dict[str, Any] = {f"{prefix}_samples": len(values)}
    for pct in PERCENTILES:
        value = percentile(values, pct)
        out[f"{prefix}_p{pct}_ms"] = round(value * 1000, 2) if value is not None else None
    out[f"{prefix}_max_ms"] = round(values[-1] * 1000, 2) if values else None
    return out


def change_coverage(conns: Sequence[Any], last_seq: int) -> dict[str, int]:
    """How many clients received every change written after their snapshot, and the misses."""
    complete = missed = updated = 0
    for conn in conns:
        if conn.snapshot_seq is None:
            continue
        gap = max(0, last_seq - conn.snapshot_seq - conn.seqs)
        missed += gap
        complete += gap == 0
        updated += conn.seqs > 0
    return {"clients_with_updates": updated, "clients_all_changes": complete,
            "changes_missed_total": missed}


def per_conn_rates(window_events: Sequence[int], seconds: float) -> float | None:
    """Median events per second over the connections."""
    if not window_events or seconds <= 0:
        return None
    return round(statistics.median(window_events) / seconds, 3)


def failed_checks(report: dict[str, Any]) -> list[str]:
    """What ``--check`` refuses: a missed snapshot, a parse error, a connection error."""
    problems = []
    if report["full_snapshot_clients"] < report["clients"]:
        missing = report["clients"] - report["full_snapshot_clients"]
        problems.append(f"{missing} clients missed their full_snapshot")
    if report["parse_errors_total"]:
        problems.append(f"{report['parse_errors_total']} parse errors")
    if report["connection_errors"]:
        problems.append(f"connection errors: {report['connection_errors']}")
    return problems


def render(report: dict[str, Any], as_json: bool) -> str:
    if as_json:
        return json.dumps(report, indent=1, sort_keys=True)
    width = max(len(key) for key in report)
    lines = []
    for key, value in report.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in sorted(value.items())) or "-"
        lines.append(f"{key:<{width}}  {value}")
    return "\n".join(lines)
