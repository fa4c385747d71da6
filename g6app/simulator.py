"""A demo collector: writes realistic status documents (simulator shape) every interval.

For demos, development and tests only: the platform's real collector writes the same shape.
Each write is atomic (temporary file + rename), so readers never see half a document.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import time
from datetime import UTC, datetime
from typing import Any

from .source import write_atomic

INDICES = {"NIFTY": 19980.0, "BANKNIFTY": 44950.0, "FINNIFTY": 19950.0, "SENSEX": 66900.0}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


class Simulator:
    """A random walk of index prices with the bookkeeping a collector reports."""

    def __init__(self, seed: int | None = None, interval_seconds: float = 1.0):
        self.rng = random.Random(seed)
        self.interval_seconds = interval_seconds
        self.prices = dict(INDICES)
        self.opens = dict(INDICES)
        self.cycle = 0
        self.started = time.time()

    def step(self) -> dict[str, Any]:
        """Advance one cycle and return the status document for it."""
        self.cycle += 1
        now = time.time()
        rng = self.rng
        for name in self.prices:
            self.prices[name] = round(self.prices[name] * (1 + rng.gauss(0, 0.0008)), 2)
        alerts = []
        if rng.random() < 0.1:
            alerts.append({"level": "warning", "message": "provider latency above 250 ms",
                           "time": _iso(now)})
        return {
            "app": {"name": "G6 Simulator", "version": "dev", "pid": os.getpid(),
                    "host": socket.gethostname(), "started_at": _iso(self.started),
                    "uptime_sec": round(now - self.started, 1)},
            "market": {"status": "OPEN", "segment": "F&O"},
            "loop": {"cycle": self.cycle, "last_run": _iso(now),
                     "next_run_in_sec": self.interval_seconds,
                     "avg_cycle_ms": rng.randint(600, 1100), "p95_cycle_ms": rng.randint(900, 1500),
                     "last_duration": round(rng.uniform(0.4, 0.9), 3),
                     "success_rate": round(rng.uniform(95, 100), 1),
                     "target_interval": self.interval_seconds},
            "indices": {name: {"ltp": price,
                               "change": round((price / self.opens[name] - 1) * 100, 2)}
                        for name, price in self.prices.items()},
            "indices_detail": {name: {"status": "ok", "ltp": price, "age_sec": rng.randint(0, 6),
                                      "legs": 100000 + self.cycle * 7 + rng.randint(0, 50),
                                      "dq": {"score_percent": round(rng.uniform(88, 97), 2),
                                             "issues_total": rng.choice([0, 0, 0, 1])}}
                               for name, price in self.prices.items()},
            "analytics": {"pcr": round(rng.uniform(0.7, 1.4), 2),
                          "max_pain": {name: int(round(price / 50) * 50)
                                       for name, price in self.prices.items()}},
            "provider": {"name": "sim", "latency_ms": rng.randint(20, 120)},
            "health": {"collector": "ok", "sinks": "ok", "provider": "ok"},
            "sinks": {"csv": {"last_write": _iso(now)}},
            "resources": {"cpu": round(rng.uniform(3, 30), 1),
                          "rss": rng.randint(150, 400) * 1024 * 1024},
            "config": {"env": "demo", "output_level": "INFO"},
            "alerts": alerts,
            "links": {"metrics": "http://127.0.0.1:9325/metrics"},
        }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="data/runtime_status.json", help="status file to write")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between cycles")
    parser.add_argument("--cycles", type=int, default=0, help="stop after N cycles (0: never)")
    parser.add_argument("--seed", type=int, default=None)


def run(args: argparse.Namespace) -> int:
    sim = Simulator(args.seed, args.interval)
    while args.cycles == 0 or sim.cycle < args.cycles:
        write_atomic(args.out, sim.step(), create_directory=True)
        time.sleep(args.interval)
    return 0
