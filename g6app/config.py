"""Settings: one frozen object read from the environment once.

Owns parsing and validating every ``G6_*`` variable and reporting all bad ones together.
It does not read ``os.environ`` by itself: callers pass the mapping, so tests pass a dict.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class SettingsError(ValueError):
    """Raised with every invalid variable listed, one per line."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid settings:\n  " + "\n  ".join(problems))


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected 1/0, true/false, yes/no or on/off")


def _number(raw: str, kind: type, expected: str):
    try:
        return kind(raw.strip())
    except ValueError:
        raise ValueError(f"expected {expected}") from None


def _positive_float(raw: str) -> float:
    value = _number(raw, float, "a positive number")
    if not value > 0 or value == float("inf"):
        raise ValueError("expected a positive number")
    return value


def _non_negative_float(raw: str) -> float:
    value = _number(raw, float, "a number >= 0")
    if not value >= 0 or value == float("inf"):
        raise ValueError("expected a number >= 0")
    return value


def _positive_int(raw: str) -> int:
    value = _number(raw, int, "a whole number > 0")
    if value <= 0:
        raise ValueError("expected a whole number > 0")
    return value


def _non_negative_int(raw: str) -> int:
    value = _number(raw, int, "a whole number >= 0")
    if value < 0:
        raise ValueError("expected a whole number >= 0")
    return value


def _event_bytes(raw: str) -> int:
    value = _positive_int(raw)
    if value < 1024:
        raise ValueError("expected at least 1024 (room for one event's envelope and a panel)")
    return value


def _optional_str(raw: str) -> str | None:
    return raw.strip() or None


def _csv(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _networks(raw: str) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(part, strict=False) for part in _csv(raw))


def _rate(raw: str) -> tuple[int, float] | None:
    """``N/W``: at most N events per W seconds; empty or 0 disables the limit."""
    text = raw.strip()
    if text in ("", "0"):
        return None
    count, sep, window = text.partition("/")
    if not sep:
        raise ValueError("expected N/W, e.g. 20/60 for 20 per 60 seconds")
    return _positive_int(count), _positive_float(window)


def _bind(raw: str) -> str:
    host, sep, port = raw.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError("expected HOST:PORT (port 0: any free port)")
    return raw.strip()


def _setting(env: str, parse: Callable[[str], Any], default: Any, secret: bool = False) -> Any:
    return field(default=default, repr=not secret, metadata={"env": env, "parse": parse})


@dataclass(frozen=True)
class Settings:
    """Every knob of the service; see the README's configuration table."""

    sse_http: bool = _setting("G6_SSE_HTTP", _bool, True)
    summary_metrics_http: bool = _setting("G6_SUMMARY_METRICS_HTTP", _bool, True)
    bind: str = _setting("G6_BIND", _bind, "127.0.0.1:9325")
    workers: int = _setting("G6_WORKERS", _positive_int, 2)
    status_file: str = _setting("G6_STATUS_FILE", str, "data/runtime_status.json")
    refresh_seconds: float = _setting("G6_SUMMARY_REFRESH_SEC", _positive_float, 0.5)
    status_max_bytes: int = _setting("G6_STATUS_MAX_BYTES", _positive_int, 4 * 1024 * 1024)
    status_stale_seconds: float = _setting("G6_STATUS_STALE_SECONDS", _positive_float, 30.0)
    sse_heartbeat_cycles: int = _setting("G6_SSE_HEARTBEAT_CYCLES", _positive_int, 10)
    sse_keepalive_seconds: float = _setting("G6_SSE_KEEPALIVE_SECONDS", _positive_float, 15.0)
    sse_retry_ms: int = _setting("G6_SSE_RETRY_MS", _positive_int, 3000)
    sse_history_size: int = _setting("G6_SSE_HISTORY_SIZE", _positive_int, 64)
    sse_max_event_bytes: int = _setting("G6_SSE_MAX_EVENT_BYTES", _event_bytes, 65536)
    sse_events_per_sec: float = _setting("G6_SSE_EVENTS_PER_SEC", _non_negative_float, 0.0)
    sse_write_timeout_seconds: float = _setting(
        "G6_SSE_WRITE_TIMEOUT_SECONDS", _positive_float, 30.0
    )
    sse_max_stream_seconds: float = _setting(
        "G6_SSE_MAX_STREAM_SECONDS", _non_negative_float, 0.0
    )
    sse_max_connections: int = _setting("G6_SSE_MAX_CONNECTIONS", _non_negative_int, 0)
    sse_ip_connect_rate: tuple[int, float] | None = _setting("G6_SSE_IP_CONNECT_RATE", _rate, None)
    sse_api_token: str | None = _setting("G6_SSE_API_TOKEN", _optional_str, None, secret=True)
    sse_ip_allow: tuple[Network, ...] = _setting("G6_SSE_IP_ALLOW", _networks, ())
    sse_ua_allow: tuple[str, ...] = _setting("G6_SSE_UA_ALLOW", _csv, ())
    sse_allow_origin: str | None = _setting("G6_SSE_ALLOW_ORIGIN", _optional_str, None)
    trusted_proxies: tuple[Network, ...] = _setting("G6_TRUSTED_PROXIES", _networks, ())
    sse_send_buffer_bytes: int = _setting("G6_SSE_SEND_BUFFER_BYTES", _non_negative_int, 0)
    state_dir: str | None = _setting("G6_STATE_DIR", _optional_str, None)
    redis_url: str | None = _setting("G6_REDIS_URL", _optional_str, None, secret=True)
    redis_lease_seconds: float = _setting("G6_REDIS_LEASE_SECONDS", _positive_float, 15.0)
    ingest_token: str | None = _setting("G6_INGEST_TOKEN", _optional_str, None, secret=True)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Parse every known variable; raise SettingsError naming all bad ones at once."""
        values: dict[str, Any] = {}
        problems: list[str] = []
        for f in fields(cls):
            env = f.metadata["env"]
            if env not in environ:
                continue
            raw = environ[env]
            try:
                values[f.name] = f.metadata["parse"](raw)
            except ValueError as exc:
                shown = "<hidden>" if not f.repr else repr(raw)
                problems.append(f"{env}={shown}: {exc}")
        if problems:
            raise SettingsError(problems)
        return cls(**values)

    @staticmethod
    def env_names() -> dict[str, str]:
        """Field name -> environment variable, for documentation and tooling."""
        return {f.name: f.metadata["env"] for f in fields(Settings)}
