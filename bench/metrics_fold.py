"""Scrape cost of /metrics after N worker replacements, with and without folding.

Each replaced worker is a forked child that builds g6app's Metrics in multiprocess mode,
counts some traffic and exits, leaving its files the way a gunicorn worker does; the parent
then does what ``child_exit`` does (mark_process_dead, and fold when folding is on) and times
a full exposition of the directory. Usage: ``python bench/metrics_fold.py [N ...]``.
"""

from __future__ import annotations

import math
import os
import shutil
import statistics
import sys
import tempfile
import time

LIVE_WORKERS = 2
SCRAPES = 7


def work(metrics) -> None:
    """A little of everything a worker records, so every file type exists."""
    metrics.connections.inc(3)
    metrics.disconnects.inc(2)
    metrics.active_connections.inc()
    metrics.events_sent.inc(40)
    metrics.event_size.observe(900)
    metrics.event_queue_latency.observe(0.004)
    metrics.connection_duration.observe(30)
    metrics.source_age.set(0.2)
    metrics.source_up.set(1)
    metrics.panel_updates.labels(panel="indices").inc()


def spawn_worker(exit_now: bool) -> int:
    """Fork a process that records metrics; it exits at once or waits to be killed."""
    from prometheus_client import CollectorRegistry

    from g6app.metrics import Metrics

    ready, written = os.pipe()
    pid = os.fork()
    if pid == 0:
        work(Metrics(CollectorRegistry()))
        os.write(written, b"x")
        if not exit_now:
            time.sleep(3600)
        os._exit(0)
    os.close(written)
    os.read(ready, 1)  # its files are written
    os.close(ready)
    if exit_now:
        os.waitpid(pid, 0)
    return pid


def replace_workers(path: str, count: int, folding: bool) -> list[float]:
    """``count`` workers come and go; returns the seconds each fold took."""
    from prometheus_client import multiprocess

    from g6app.multiproc import fold

    fold_seconds = []
    for _ in range(count):
        pid = spawn_worker(exit_now=True)
        multiprocess.mark_process_dead(pid, path)
        if folding:
            started = time.perf_counter()
            fold(path, [pid])
            fold_seconds.append(time.perf_counter() - started)
    return fold_seconds


def scrape_seconds(path: str) -> tuple[float, bytes]:
    from prometheus_client import CollectorRegistry, generate_latest

    from g6app.multiproc import LockedCollector

    registry = CollectorRegistry()
    LockedCollector(path, registry=registry)
    times = []
    for _ in range(SCRAPES):
        started = time.perf_counter()
        text = generate_latest(registry)
        times.append(time.perf_counter() - started)
    return statistics.median(times), text


def totals(text: bytes) -> dict[str, float]:
    """Every sample except the file count and the gauges of the live workers."""
    lines = [line.split(" ") for line in text.decode().splitlines() if line[:1] != "#"]
    return {name: float(value) for name, value in lines
            if not name.startswith(("g6_metrics_multiproc_files", "g6_summary_status_age",
                                    "g6_summary_source_up"))}


def run(replacements: int, folding: bool) -> dict[str, float]:
    path = tempfile.mkdtemp(prefix="g6-bench-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    live = [spawn_worker(exit_now=False) for _ in range(LIVE_WORKERS)]
    try:
        fold_seconds = replace_workers(path, replacements, folding)
        seconds, text = scrape_seconds(path)
        files = len([f for f in os.listdir(path) if f.endswith(".db")])
    finally:
        for pid in live:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        shutil.rmtree(path, ignore_errors=True)
    return {"scrape_seconds": seconds, "files": files, "text": text,
            "fold_seconds": statistics.mean(fold_seconds) if fold_seconds else 0.0}


def main(counts: list[int]) -> None:
    print("| replacements | folding | files | scrape median (ms) | fold per exit (ms) |")
    print("|---:|---|---:|---:|---:|")
    for count in counts:
        results = {folding: run(count, folding) for folding in (False, True)}
        for folding, result in results.items():
            print(f"| {count} | {'on' if folding else 'off'} | {result['files']} "
                  f"| {result['scrape_seconds'] * 1000:.1f} "
                  f"| {result['fold_seconds'] * 1000:.2f} |")
        plain, folded = totals(results[False]["text"]), totals(results[True]["text"])
        # integer counts are exact; float sums may differ in the last bit (summation order)
        same = plain.keys() == folded.keys() and all(
            math.isclose(plain[name], folded[name], rel_tol=1e-12) for name in plain)
        print(f"<!-- {count}: totals identical with and without folding: {same} -->")
        if not same:
            sys.exit("folding changed a total")


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    main([int(arg) for arg in sys.argv[1:]] or [0, 100, 1000])
