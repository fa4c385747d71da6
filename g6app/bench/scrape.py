"""Timed ``/metrics`` scrapes in a process of their own, so the clients' loop does not skew them.

``python -m g6app.bench.scrape URL COUNT INTERVAL_SECONDS`` prints one JSON object: the
seconds each scrape took (request sent to last byte read) and how many failed.
"""

from __future__ import annotations

import http.client
import json
import sys
import time
from urllib.parse import urlsplit


def scrape_once(host: str, port: int, timeout_seconds: float = 10.0) -> tuple[float, int]:
    """One scrape on a fresh connection: (seconds, body bytes)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout_seconds)
    try:
        started = time.perf_counter()
        conn.request("GET", "/metrics")
        response = conn.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - started
        if response.status != 200:
            raise OSError(f"http {response.status}")
        return elapsed, len(body)
    finally:
        conn.close()


def main(argv: list[str]) -> int:
    url, count, interval_seconds = argv[0], int(argv[1]), float(argv[2])
    parts = urlsplit(url)
    seconds: list[float] = []
    errors = 0
    size_bytes = 0
    for index in range(count):
        if index:
            time.sleep(interval_seconds)
        try:
            elapsed, size_bytes = scrape_once(parts.hostname or "127.0.0.1", parts.port or 80)
            seconds.append(elapsed)
        except (OSError, http.client.HTTPException):
            errors += 1
    print(json.dumps({"seconds": seconds, "errors": errors, "size_bytes": size_bytes}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
