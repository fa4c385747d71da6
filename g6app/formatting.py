"""How values read on a panel: one safe line per value, fixed decimals, dashes for absence.

Pure, stdlib-only helpers shared by the panel builders; they know nothing of which field is
which (that is panels' business) and never raise on odd input: a string where a number was
expected is shown as the string.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

DASH = "\u2014"
MAX_TEXT = 120  # characters of one value before it is clipped
MAX_ITEMS = 50  # entries of one list (alerts, links, ...) before "... N more"
# Characters that would break a line or a UTF-8 encoding: C0/C1 controls, line/paragraph
# separators (str.splitlines splits on them) and lone surrogates (json.loads accepts them).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


# --- formatting: every value goes through one of these -------------------------------------

def text(v: Any) -> str:
    """Any value as one safe line: None -> dash, bool -> true/false, containers as JSON."""
    if v is None:
        return DASH
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int) or isinstance(v, float) and v.is_integer():
        return num(v, 0, sep=False)
    if isinstance(v, float):
        return num(v, 4, sep=False).rstrip("0").rstrip(".")
    if not isinstance(v, str):
        try:
            v = json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=repr)
        except (TypeError, ValueError, RecursionError):
            v = type(v).__name__
    return clip(_UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode(), v))


def clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "\u2026"


def num(v: Any, decimals: int, *, unit: str = "", sign: bool = False, sep: bool = True) -> str:
    """A number with fixed decimals (1 == 1.0, -0.0 -> 0, NaN/inf -> dash) and its unit;
    anything else as plain text, without the unit."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return text(v)
    try:
        x = float(v)
    except OverflowError:
        return DASH
    if not math.isfinite(x):
        return DASH
    x = round(x, decimals) + 0.0  # "+ 0.0" turns -0.0 into 0.0
    return clip(format(x, f"{'+' if sign and x else ''}{',' if sep else ''}.{decimals}f") + unit)


def duration(v: Any) -> str:
    """Seconds as a readable uptime: 0.1s, 42.0s, 1m 05s, 11h 08m 25s, 3d 04h 00m."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return text(v)
    if abs(v) > 1e12 or not math.isfinite(v):
        return DASH
    if v < 60:
        return num(v, 1, unit="s")
    m, s = divmod(int(v), 60)
    h, m = divmod(m, 60)
    d, h = divmod(h, 24)
    return f"{d}d {h:02d}h {m:02d}m" if d else f"{h}h {m:02d}m {s:02d}s" if h else f"{m}m {s:02d}s"


def byte_size(v: Any) -> str:
    """A size in bytes as MiB (1 decimal) or, from 1 GiB, GiB (2 decimals)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return text(v)
    if abs(v) > 2**80 or not math.isfinite(v):
        return DASH
    if abs(v) >= 2**30:
        return num(v / 2**30, 2, unit=" GiB")
    return num(v / 2**20, 1, unit=" MiB")


def flag(v: Any) -> str:
    return ("yes" if v else "no") if isinstance(v, bool) else text(v)


def get(obj: Any, *path: str) -> Any:
    """obj[path[0]][path[1]]..., or None where a step is missing or not a mapping."""
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def items(obj: Any) -> list[tuple[str, Any]]:
    return [(str(k), v) for k, v in obj.items()] if isinstance(obj, Mapping) else []


def has(obj: Any, key: str) -> bool:
    return isinstance(obj, Mapping) and key in obj


def joined(*texts: str) -> str:
    """The distinct non-dash texts joined by " / " (one source disagreeing with another shows)."""
    seen = [t for i, t in enumerate(texts) if t != DASH and t not in texts[:i]]
    return " / ".join(seen) or DASH


def capped(lines: list[str]) -> list[str]:
    if len(lines) <= MAX_ITEMS:
        return lines
    return lines[:MAX_ITEMS] + [f"\u2026 {len(lines) - MAX_ITEMS} more"]


def mapping_lines(label: str, obj: Any, render: Callable[[Any], str], plural: str) -> list[str]:
    """One line per entry of a mapping; a dash when absent, the raw value when not a mapping."""
    if obj is None or obj == {}:
        return [f"{plural} {DASH}"]
    if not isinstance(obj, Mapping):
        return [f"{plural} {text(obj)}"]
    return capped([f"{label} {text(k)}  {render(v)}" for k, v in items(obj)])


# --- one pure builder per panel -------------------------------------------------------------
