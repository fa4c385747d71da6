"""Unit tests for g6app.config: every G6_* variable parsed, all bad ones reported together."""

from __future__ import annotations

import dataclasses
import ipaddress

import pytest

from g6app.config import Settings, SettingsError


def test_config_defaults_match_the_readme_table():
    """An empty environment gives the documented defaults."""
    s = Settings.from_env({})
    assert s.sse_http is True and s.summary_metrics_http is True
    assert s.bind == "127.0.0.1:9325"
    assert s.workers == 2
    assert s.status_file == "data/runtime_status.json"
    assert s.refresh_seconds == 0.5
    assert s.status_max_bytes == 4 * 1024 * 1024
    assert s.status_stale_seconds == 30.0
    assert s.sse_heartbeat_cycles == 10
    assert s.sse_keepalive_seconds == 15.0
    assert s.sse_retry_ms == 3000
    assert s.sse_history_size == 64
    assert s.sse_max_event_bytes == 65536
    assert s.sse_events_per_sec == 0.0
    assert s.sse_write_timeout_seconds == 30.0
    assert s.sse_max_stream_seconds == 0.0
    assert s.sse_max_connections == 0
    assert s.sse_ip_connect_rate is None
    assert s.sse_api_token is None and s.redis_url is None and s.ingest_token is None
    assert s.sse_ip_allow == () and s.trusted_proxies == () and s.sse_ua_allow == ()
    assert s.sse_allow_origin is None


@pytest.mark.parametrize("raw, expected", [
    ("1", True), ("true", True), ("YES", True), (" on ", True),
    ("0", False), ("False", False), ("no", False), ("OFF", False),
])
def test_config_bool_forms(raw, expected):
    """Every documented spelling of a boolean parses, case and spaces ignored."""
    s = Settings.from_env({"G6_SSE_HTTP": raw, "G6_SUMMARY_METRICS_HTTP": raw})
    assert s.sse_http is expected and s.summary_metrics_http is expected


def test_config_every_variable_parsed():
    """Each variable lands in its field with the right type."""
    s = Settings.from_env({
        "G6_BIND": "0.0.0.0:0",
        "G6_WORKERS": "4",
        "G6_STATUS_FILE": "/tmp/x.json",
        "G6_SUMMARY_REFRESH_SEC": "0.25",
        "G6_STATUS_MAX_BYTES": "1000",
        "G6_STATUS_STALE_SECONDS": "2.5",
        "G6_SSE_HEARTBEAT_CYCLES": "3",
        "G6_SSE_KEEPALIVE_SECONDS": "7.5",
        "G6_SSE_RETRY_MS": "1500",
        "G6_SSE_HISTORY_SIZE": "8",
        "G6_SSE_MAX_EVENT_BYTES": "4096",
        "G6_SSE_EVENTS_PER_SEC": "2.5",
        "G6_SSE_WRITE_TIMEOUT_SECONDS": "3",
        "G6_SSE_MAX_STREAM_SECONDS": "600",
        "G6_SSE_MAX_CONNECTIONS": "100",
        "G6_SSE_IP_CONNECT_RATE": "20/60",
        "G6_SSE_API_TOKEN": "tok",
        "G6_SSE_IP_ALLOW": "10.0.0.0/8, 192.168.1.7 ,::1,2001:db8::/32",
        "G6_SSE_UA_ALLOW": "curl, Mozilla",
        "G6_SSE_ALLOW_ORIGIN": "https://dash.example",
        "G6_TRUSTED_PROXIES": "127.0.0.1,fd00::/8",
        "G6_REDIS_URL": "redis://localhost:6379/0",
        "G6_INGEST_TOKEN": "ingest",
    })
    assert s.bind == "0.0.0.0:0"
    assert s.workers == 4 and isinstance(s.workers, int)
    assert s.status_file == "/tmp/x.json"
    assert s.refresh_seconds == 0.25 and s.status_max_bytes == 1000
    assert s.status_stale_seconds == 2.5 and s.sse_heartbeat_cycles == 3
    assert s.sse_keepalive_seconds == 7.5 and s.sse_retry_ms == 1500
    assert s.sse_history_size == 8 and s.sse_max_event_bytes == 4096
    assert s.sse_events_per_sec == 2.5 and s.sse_write_timeout_seconds == 3.0
    assert s.sse_max_stream_seconds == 600.0 and s.sse_max_connections == 100
    assert s.sse_ip_connect_rate == (20, 60.0)
    assert s.sse_api_token == "tok"
    assert s.sse_ip_allow == (
        ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("192.168.1.7/32"),
        ipaddress.ip_network("::1/128"), ipaddress.ip_network("2001:db8::/32"))
    assert s.sse_ua_allow == ("curl", "Mozilla")
    assert s.sse_allow_origin == "https://dash.example"
    assert s.trusted_proxies == (ipaddress.ip_network("127.0.0.1/32"),
                                 ipaddress.ip_network("fd00::/8"))
    assert s.redis_url == "redis://localhost:6379/0" and s.ingest_token == "ingest"


@pytest.mark.parametrize("raw, expected", [("", None), ("0", None), ("5/1.5", (5, 1.5))])
def test_config_connect_rate_forms(raw, expected):
    """``N/W`` is N per W seconds; empty or 0 turns the limit off."""
    assert Settings.from_env({"G6_SSE_IP_CONNECT_RATE": raw}).sse_ip_connect_rate == expected


@pytest.mark.parametrize("raw", ["127.0.0.1:0", "[::1]:8080", "localhost:65535"])
def test_config_bind_accepts_host_port(raw):
    """HOST:PORT is accepted, port 0 and bracketed IPv6 hosts included."""
    assert Settings.from_env({"G6_BIND": raw}).bind == raw


def test_config_bad_variables_reported_together():
    """Several bad variables give one SettingsError naming each variable, value and expectation."""
    env = {
        "G6_SSE_HTTP": "maybe",
        "G6_BIND": "9325",
        "G6_WORKERS": "0",
        "G6_SUMMARY_REFRESH_SEC": "-1",
        "G6_SSE_MAX_CONNECTIONS": "-3",
        "G6_SSE_IP_CONNECT_RATE": "20",
        "G6_SSE_IP_ALLOW": "10.0.0.0/8,not-an-address",
        "G6_SSE_EVENTS_PER_SEC": "nan",
    }
    with pytest.raises(SettingsError) as info:
        Settings.from_env(env)
    problems = info.value.problems
    assert len(problems) == len(env)
    for name, value in env.items():
        line = next(p for p in problems if p.startswith(name + "="))
        assert repr(value) in line
        assert line.split(": ", 1)[1]  # says what was wrong
    text = str(info.value)
    assert all(name in text for name in env)
    assert "expected 1/0" in text and "HOST:PORT" in text and "N/W" in text
    assert "not-an-address" in text


def test_config_non_numeric_value_says_what_was_expected():
    """A non-numeric number names what was expected, like every other bad value."""
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"G6_WORKERS": "abc", "G6_STATUS_STALE_SECONDS": "x",
                           "G6_SSE_IP_CONNECT_RATE": "a/b"})
    assert len(info.value.problems) == 3
    for line in info.value.problems:
        assert "expected" in line, line


def test_config_secret_values_hidden():
    """Tokens and the Redis URL never appear in repr(settings)."""
    s = Settings.from_env({"G6_SSE_API_TOKEN": "s3cr3t-api", "G6_INGEST_TOKEN": "s3cr3t-ingest",
                           "G6_REDIS_URL": "redis://:s3cr3t-pass@host:6379/0",
                           "G6_STATUS_FILE": "/visible/path.json"})
    text = repr(s)
    assert "s3cr3t" not in text
    assert "/visible/path.json" in text  # repr is otherwise informative


def test_config_settings_frozen():
    """Settings cannot be changed after they are read."""
    s = Settings.from_env({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.workers = 9  # type: ignore[misc]


def test_config_env_names_use_g6_prefix():
    """Every field maps to a G6_ variable, with the original names kept."""
    names = Settings.env_names()
    assert all(env.startswith("G6_") for env in names.values())
    assert names["refresh_seconds"] == "G6_SUMMARY_REFRESH_SEC"
    assert names["sse_http"] == "G6_SSE_HTTP"
