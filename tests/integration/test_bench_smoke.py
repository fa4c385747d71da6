"""The bench harness end to end: a real gunicorn, fifty streams, three seconds of changes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 50

pytestmark = pytest.mark.integration


def test_bench_smoke_every_client_gets_snapshot_and_updates():
    """Every client receives its full snapshot and the changes, with no framing or connection error."""
    proc = subprocess.run(
        [sys.executable, "-m", "g6app", "bench", "--clients", str(CLIENTS), "--duration", "3",
         "--scrapes", "2", "--json", "--check"],
        cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads(proc.stdout)
    assert report["full_snapshot_clients"] == CLIENTS
    assert report["parse_errors_total"] == 0
    assert report["connection_errors"] == {}
    assert report["open_at_end"] == CLIENTS
    assert report["changes_written"] >= 3
    assert report["clients_with_updates"] == CLIENTS
    assert report["by_type_total"]["hello"] == CLIENTS
    assert report["by_type_total"]["panel_update"] >= CLIENTS * 3
    assert report["latency_samples"] >= CLIENTS * 3
    assert report["metrics_scrape_errors"] == 0
