"""Unit tests for g6app.hub: publishing, heartbeats, errors, history and shared encoded events."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from g6app import events
from g6app.config import Settings
from g6app.hub import Hub
from g6app.metrics import Metrics
from g6app.panels import PANEL_KEYS
from g6app.source import FileSource
from tests.support import status

JOIN_SECONDS = 10


@pytest.fixture
def doc() -> dict:
    return status.load()


@pytest.fixture
def path(tmp_path: Path, doc: dict) -> Path:
    target = tmp_path / "runtime_status.json"
    status.write(target, doc)
    return target


def make_hub(path: Path, **env: str) -> Hub:
    settings = Settings.from_env({"G6_STATUS_FILE": str(path), "G6_SUMMARY_REFRESH_SEC": "0.02",
                                  **env})
    source = FileSource(settings.status_file, settings.status_max_bytes)
    return Hub(source, settings, Metrics(CollectorRegistry()))


def sample(hub: Hub, name: str, **labels: str) -> float | None:
    return hub.metrics.registry.get_sample_value(name, labels)


def test_hub_starts_waiting_then_publishes(path: Path):
    """Before a refresh the hub holds the waiting state; the first read publishes seq 1."""
    hub = make_hub(path)
    assert hub.current.seq == 0 and hub.current.cycle is None
    waiting = hub.current
    assert sample(hub, "g6_summary_status_age_seconds") == -1
    assert hub.refresh() is True
    assert hub.current.seq == 1 and hub.current.cycle == 40105
    assert hub.current.id != waiting.id
    assert sample(hub, "g6_summary_source_reads_total") == 1
    assert sample(hub, "g6_summary_cycle") == 40105
    assert sample(hub, "g6_summary_source_up") == 1


def test_hub_publishes_only_visible_changes(path: Path, doc: dict):
    """Rewriting the same document is read but publishes nothing; a visible change does."""
    hub = make_hub(path)
    hub.refresh()
    first, generation = hub.current, hub.generation
    status.write(path, dict(reversed(list(doc.items()))))  # same content, new file
    assert hub.refresh() is False
    assert hub.current is first and hub.generation == generation
    assert sample(hub, "g6_summary_source_reads_total") == 2
    status.write(path, status.with_ltp(doc, "NIFTY", 20001.5))
    assert hub.refresh() is True
    assert hub.current.seq == 2 and hub.generation == generation + 1


def test_hub_panel_update_metrics_per_panel(path: Path, doc: dict):
    """Each publish counts the panels that changed, by panel, in metrics and health."""
    hub = make_hub(path)
    hub.refresh()
    before = {k: sample(hub, "g6_summary_panel_updates_total", panel=k) for k in PANEL_KEYS}
    status.write(path, status.with_ltp(doc, "NIFTY", 20001.5))
    hub.refresh()
    after = {k: sample(hub, "g6_summary_panel_updates_total", panel=k) for k in PANEL_KEYS}
    assert {k: after[k] - before[k] for k in PANEL_KEYS} == {
        k: (1.0 if k == "indices" else 0.0) for k in PANEL_KEYS}
    assert hub.describe()["panel_updates"]["indices"] == after["indices"]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def cycled_hub(path: Path, **env: str) -> tuple[Hub, Clock]:
    settings = Settings.from_env({"G6_STATUS_FILE": str(path), "G6_SUMMARY_REFRESH_SEC": "0.5",
                                  **env})
    clock = Clock()
    source = FileSource(settings.status_file, settings.status_max_bytes)
    return Hub(source, settings, Metrics(CollectorRegistry()), clock=clock), clock


def test_hub_heartbeat_after_unchanged_cycles(path: Path):
    """Every G6_SSE_HEARTBEAT_CYCLES unchanged refresh intervals bump heartbeat_seq and generation."""
    hub, clock = cycled_hub(path, G6_SSE_HEARTBEAT_CYCLES="3")
    hub.refresh()
    generation = hub.generation

    def cycle() -> None:
        clock.now += 0.5
        hub.refresh()
    for _ in range(2):
        cycle()
    assert hub.heartbeat_seq == 0 and hub.generation == generation
    cycle()
    assert hub.heartbeat_seq == 1 and hub.generation == generation + 1
    for _ in range(6):
        cycle()
    assert hub.heartbeat_seq == 3 and hub.generation == generation + 3


def test_hub_extra_refreshes_do_not_hasten_heartbeats(path: Path):
    """Many refreshes within one interval (requests, driven streams) count as one cycle at most."""
    hub, clock = cycled_hub(path, G6_SSE_HEARTBEAT_CYCLES="2")
    hub.refresh()
    for _ in range(50):
        hub.refresh()
    assert hub.heartbeat_seq == 0
    clock.now += 0.5
    for _ in range(50):
        hub.refresh()
    clock.now += 0.5
    hub.refresh()
    assert hub.heartbeat_seq == 1


def test_hub_error_keeps_current_state(path: Path, doc: dict):
    """A source incident bumps error_seq once and wakes streams; the current state stays."""
    hub = make_hub(path, G6_SSE_HEARTBEAT_CYCLES="100")
    hub.refresh()
    good, generation = hub.current, hub.generation
    status.write(path, "{truncated")
    hub.refresh()
    assert hub.error_seq == 1 and "not valid JSON" in hub.error_message
    assert hub.current is good and hub.generation == generation + 1
    assert sample(hub, "g6_summary_source_errors_total") == 1
    assert sample(hub, "g6_summary_source_up") == 0
    status.write(path, "{still truncated")
    hub.refresh()
    assert hub.error_seq == 1 and sample(hub, "g6_summary_source_errors_total") == 1
    status.write(path, status.with_ltp(doc, "NIFTY", 1.0))
    assert hub.refresh() is True
    assert sample(hub, "g6_summary_source_up") == 1


def publish_series(hub: Hub, path: Path, doc: dict, count: int) -> list:
    states = []
    for i in range(count):
        status.write(path, status.with_ltp(doc, "NIFTY", 1000.0 + i))
        assert hub.refresh() is True
        states.append(hub.current)
    return states


def test_hub_history_bounded(path: Path, doc: dict):
    """Only the last G6_SSE_HISTORY_SIZE states can be found for resumes."""
    hub = make_hub(path, G6_SSE_HISTORY_SIZE="3")
    states = publish_series(hub, path, doc, 5)
    assert hub.describe()["states_remembered"] == 3
    for old in states[:2]:
        assert hub.find(old.id, PANEL_KEYS) is None
    for kept in states[2:]:
        assert hub.find(kept.id, PANEL_KEYS) is kept
    assert hub.find("0123456789abcdef", PANEL_KEYS) is None


def test_hub_find_by_view_id(path: Path, doc: dict):
    """A filtered view id finds a state whose view matches, the newest such one."""
    hub = make_hub(path)
    states = publish_series(hub, path, doc, 3)
    indices = ("indices",)
    assert hub.find(states[0].view_id(indices), indices) is states[0]
    alerts = ("alerts",)  # unchanged across the series
    assert hub.find(states[0].view_id(alerts), alerts) is states[-1]
    assert hub.find(states[0].view_id(indices), PANEL_KEYS) is None


def test_hub_update_bytes_built_once(path: Path, doc: dict, monkeypatch: pytest.MonkeyPatch):
    """The same (from, to, filter) update is encoded once and the same bytes object is shared."""
    calls = []
    real_update = events.update

    def counting_update(*args, **kwargs):
        calls.append(args)
        return real_update(*args, **kwargs)

    monkeypatch.setattr(events, "update", counting_update)
    hub = make_hub(path)
    old, new = publish_series(hub, path, doc, 2)
    first = hub.update_bytes(old, new, PANEL_KEYS)
    second = hub.update_bytes(old, new, PANEL_KEYS)
    assert first is second and b"event: panel_update" in first
    assert len(calls) == 1
    hub.update_bytes(old, new, ("indices",))
    assert len(calls) == 2
    assert hub.describe()["diff_hit_ratio"] == pytest.approx(1 / 3, abs=1e-4)


def test_hub_snapshot_bytes_shared(path: Path):
    """Snapshots are cached per state and filter too."""
    hub = make_hub(path)
    hub.refresh()
    blob = hub.snapshot_bytes(hub.current, PANEL_KEYS)
    assert hub.snapshot_bytes(hub.current, PANEL_KEYS) is blob
    assert blob.startswith(b"event: full_snapshot\n")


def run_in_thread(target) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def test_hub_wait_returns_when_generation_moves(path: Path, doc: dict):
    """Without a poller, a waiter polls the source itself and returns on a new state."""
    hub = make_hub(path, G6_SSE_HEARTBEAT_CYCLES="100000")
    hub.refresh()
    generation = hub.generation
    status.write(path, status.with_ltp(doc, "NIFTY", 123.0))
    thread = run_in_thread(lambda: hub.wait(generation, JOIN_SECONDS * 2))
    thread.join(JOIN_SECONDS)
    assert not thread.is_alive()
    assert hub.generation == generation + 1 and hub.current.seq == 2


def test_hub_wait_times_out_without_change(path: Path):
    """With nothing new, wait returns after its timeout and the generation is unchanged."""
    hub = make_hub(path, G6_SSE_HEARTBEAT_CYCLES="100000")
    hub.refresh()
    generation = hub.generation
    hub.wait(generation, 0.1)
    assert hub.generation == generation


def test_hub_close_wakes_waiters(path: Path):
    """close() records the reason and wakes a blocked waiter at once."""
    hub = make_hub(path, G6_SSE_HEARTBEAT_CYCLES="100000")
    hub.refresh()
    generation = hub.generation
    started = threading.Event()

    def waiter():
        started.set()
        hub.wait(generation, JOIN_SECONDS * 3)

    thread = run_in_thread(waiter)
    assert started.wait(JOIN_SECONDS)
    hub.close("shutdown")
    thread.join(JOIN_SECONDS)
    assert not thread.is_alive()
    assert hub.closing == "shutdown" and hub.generation == generation + 1


def test_hub_poller_wakes_waiters(path: Path, doc: dict):
    """With the poller running, a waiter is woken by the poller's publish."""
    hub = make_hub(path, G6_SSE_HEARTBEAT_CYCLES="100000")
    stop = threading.Event()
    generation = hub.generation
    poller = run_in_thread(lambda: hub.run(stop))
    try:
        hub.wait(generation, JOIN_SECONDS)  # the first read publishes
        assert hub.generation > generation and hub.current.cycle == 40105
        generation = hub.generation
        status.write(path, status.with_ltp(doc, "NIFTY", 5.0))
        hub.wait(generation, JOIN_SECONDS)
        assert hub.generation > generation
    finally:
        stop.set()
        poller.join(JOIN_SECONDS)
    assert not poller.is_alive()
