"""``python -m g6app bench``: drive a real server with many SSE clients and report the numbers.

Phases: start gunicorn (or target ``--url``), measure idle RSS, open the streams in batches,
measure RSS per open stream, then write ``--rate`` changes per second for ``--duration``
seconds while counting, timing and scraping ``/metrics`` from a separate process.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from . import report as rep
from .clients import Swarm
from .server import LocalServer, StatusWriter, cpu_seconds, describe_machine, process_tree, rss_bytes

ROOT = Path(__file__).resolve().parents[2]
DRAIN_SECONDS = 1.0
SETTLE_SECONDS = 1.0
IDLE_SECONDS = 2.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--clients", type=int, default=100, help="open streams")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of writing")
    parser.add_argument("--rate", type=float, default=1.0, help="status changes per second")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (local server)")
    parser.add_argument("--refresh-seconds", type=float, default=0.02,
                        help="G6_SUMMARY_REFRESH_SEC of the local server")
    parser.add_argument("--batch", type=int, default=500, help="connections opened at a time")
    parser.add_argument("--scrapes", type=int, default=5, help="timed /metrics scrapes")
    parser.add_argument("--url", help="target a running server instead of starting one")
    parser.add_argument("--status-file", help="the status file the --url server reads")
    parser.add_argument("--pid", type=int, help="pid of the --url server (CPU and RSS)")
    parser.add_argument("--path", default="/summary/events", help="stream path")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 on a missed snapshot, parse error or connection error")


def raise_nofile(needed: int) -> int:
    """Raise the soft RLIMIT_NOFILE toward ``needed`` (up to the hard limit); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


class Pacer:
    """Writes change 1, 2, ... at ``rate`` per second while ``active``; used as the loop's tick."""

    def __init__(self, writer: StatusWriter, rate: float):
        self.writer = writer
        self.interval_seconds = 1.0 / rate
        self.seq = 0
        self.next_due: float | None = None

    def start(self) -> None:
        self.next_due = time.monotonic()

    def stop(self) -> None:
        self.next_due = None

    def __call__(self) -> float | None:
        if self.next_due is None:
            return None
        now = time.monotonic()
        if now >= self.next_due:
            self.seq += 1
            self.writer.write(self.seq)
            self.next_due += self.interval_seconds
        return self.next_due


def wait_healthy(url: str, timeout_seconds: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_seconds
    while True:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)


def run(args: argparse.Namespace) -> int:
    if args.url and not args.status_file:
        print("bench: --url needs --status-file (the file that server reads)", file=sys.stderr)
        return 2
    nofile = raise_nofile(2 * args.clients + 2000)
    server = None
    if args.url:
        url, root_pid, status_file = args.url.rstrip("/"), args.pid, args.status_file
    else:
        heartbeat_cycles = max(1, int(60 / args.refresh_seconds))  # no heartbeats during a run
        server = LocalServer(args.workers, {"G6_SUMMARY_REFRESH_SEC": str(args.refresh_seconds),
                                            "G6_SSE_HEARTBEAT_CYCLES": str(heartbeat_cycles)})
        status_file = server.status_file
    writer = StatusWriter(status_file)
    writer.write(0)
    try:
        if server is not None:
            server.start(str(ROOT))
            url, root_pid = server.url, server.pid
        wait_healthy(url)
        result = measure(args, url, root_pid, writer)
        result["nofile_limit"] = nofile
        result["machine"] = describe_machine()
    finally:
        if server is not None:
            server.stop()
    print(rep.render(result, args.json))
    problems = rep.failed_checks(result)
    if args.check and problems:
        print("bench check failed: " + "; ".join(problems), file=sys.stderr)
        return 1
    return 0


def measure(args: argparse.Namespace, url: str, root_pid: int | None,
            writer: StatusWriter) -> dict[str, Any]:
    pids = (lambda: process_tree(root_pid)) if root_pid else (lambda: [])
    swarm = Swarm(url, args.path, writer.written_at)
    try:
        opened = open_streams(swarm, args, pids)
        scraper = start_scraper(url, args.scrapes, args.duration)
        loaded = apply_load(swarm, args, writer, pids)
        scrapes = finish_scraper(scraper)
        open_at_end = swarm.open_count
    finally:
        swarm.close()
    has_pid = bool(root_pid)
    delivered, cpu_used = loaded["delivered"], loaded["server_cpu"]
    window_seconds = loaded["window_seconds"]
    return {
        "url": url,
        "clients": args.clients,
        "rate": args.rate,
        "duration_seconds": round(window_seconds, 3),
        "connect_seconds": round(opened["connect_seconds"], 3),
        "open_at_end": open_at_end,
        "changes_written": loaded["changes"],
        "events_per_sec_total": round(swarm.window_events / window_seconds, 1),
        "median_events_per_sec_conn": rep.per_conn_rates(
            [c.window_events for c in swarm.conns], window_seconds),
        "full_snapshot_clients": sum(1 for c in swarm.conns if c.snapshot_seq is not None),
        **rep.change_coverage(swarm.conns, loaded["changes"]),
        "parse_errors_total": swarm.parse_errors,
        "by_type_total": dict(swarm.by_type),
        "connection_errors": dict(swarm.errors),
        **rep.latency_summary(swarm.latencies_seconds, "latency"),
        "server_cpu_seconds": round(cpu_used, 3) if has_pid else None,
        "server_cpu_us_per_event": (round(cpu_used / delivered * 1e6, 2)
                                    if has_pid and delivered else None),
        "server_idle_cpu_percent": round(opened["idle_cpu_rate"] * 100, 2) if has_pid else None,
        "server_cpu_us_per_event_net_of_idle": (
            round((cpu_used - opened["idle_cpu_rate"] * loaded["elapsed_seconds"])
                  / delivered * 1e6, 2) if has_pid and delivered else None),
        "client_cpu_seconds": round(loaded["client_cpu"], 3),
        "server_rss_bytes_idle": opened["rss_before"] if has_pid else None,
        "server_rss_bytes_per_stream": (
            round((opened["rss_open"] - opened["rss_before"]) / args.clients)
            if has_pid and args.clients else None),
        **scrapes,
    }


def _idle() -> None:
    return None  # no writes while connecting or draining


def open_streams(swarm: Swarm, args: argparse.Namespace, pids: Any) -> dict[str, float]:
    """Connect every client, wait for the snapshots, and take RSS before and after."""
    time.sleep(SETTLE_SECONDS)
    rss_before = rss_bytes(pids())
    started = time.monotonic()
    swarm.connect(args.clients, args.batch, _idle)
    swarm.run(time.monotonic() + 15, _idle, until=lambda: all(
        c.snapshot_seq is not None or not c.open for c in swarm.conns))
    connect_seconds = time.monotonic() - started
    swarm.run(time.monotonic() + SETTLE_SECONDS, _idle)
    idle_cpu, idle_started = cpu_seconds(pids()), time.monotonic()
    swarm.run(idle_started + IDLE_SECONDS, _idle)  # streams open, no changes
    idle_rate = (cpu_seconds(pids()) - idle_cpu) / (time.monotonic() - idle_started)
    return {"rss_before": rss_before, "rss_open": rss_bytes(pids()),
            "connect_seconds": connect_seconds, "idle_cpu_rate": idle_rate}


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def apply_load(swarm: Swarm, args: argparse.Namespace, writer: StatusWriter,
               pids: Any) -> dict[str, float]:
    """Write changes at the rate for the duration, then drain; CPU and events in between."""
    pacer = Pacer(writer, args.rate)
    cpu_before, events_before = cpu_seconds(pids()), sum(swarm.by_type.values())
    client_before = _cpu_self()
    swarm.measuring = True
    started = time.monotonic()
    pacer.start()
    swarm.run(started + args.duration, pacer)
    pacer.stop()
    swarm.measuring = False
    window_seconds = time.monotonic() - started
    swarm.run(time.monotonic() + DRAIN_SECONDS, _idle)
    return {"changes": pacer.seq, "window_seconds": window_seconds,
            "elapsed_seconds": time.monotonic() - started,
            "server_cpu": cpu_seconds(pids()) - cpu_before,
            "delivered": sum(swarm.by_type.values()) - events_before,
            "client_cpu": _cpu_self() - client_before}


def start_scraper(url: str, count: int, duration_seconds: float) -> subprocess.Popen | None:
    if count <= 0:
        return None
    interval = max(0.0, duration_seconds / count - 0.05)
    return subprocess.Popen([sys.executable, "-m", "g6app.bench.scrape", url, str(count),
                             str(interval)], cwd=ROOT, stdout=subprocess.PIPE, text=True)


def finish_scraper(proc: subprocess.Popen | None) -> dict[str, Any]:
    if proc is None:
        return {}
    out, _ = proc.communicate(timeout=120)
    data = json.loads(out or "{}")
    summary = rep.latency_summary([s for s in data.get("seconds", [])], "metrics_scrape")
    summary["metrics_scrape_errors"] = data.get("errors")
    summary["metrics_scrape_bytes"] = data.get("size_bytes")
    return summary
