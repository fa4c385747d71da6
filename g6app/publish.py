"""``python -m g6app publish FILE|-``: push one status document to a server's ingest endpoint.

Owns reading the document (a file or standard input) and the one ``PUT /summary/status``
request (stdlib urllib). It validates nothing beyond "is JSON": the server decides. The token
comes from ``--token`` or, better (not visible in the process list), ``G6_INGEST_TOKEN``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from urllib.parse import urlsplit

INGEST_PATH = "/summary/status"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="status document (JSON object); - reads standard input")
    parser.add_argument("--url", default="http://127.0.0.1:9325",
                        help="server base URL, or the full ingest URL (default %(default)s)")
    parser.add_argument("--token", default=None,
                        help="ingest bearer token (default: $G6_INGEST_TOKEN)")
    parser.add_argument("--timeout-seconds", type=float, default=10.0,
                        help="give up after this long (default %(default)s)")


def ingest_url(url: str) -> str:
    """``http://host:port`` -> ``http://host:port/summary/status``; a full URL stays."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"expected an http(s) URL, got {url!r}")
    if parts.path in ("", "/"):
        return url.rstrip("/") + INGEST_PATH
    return url


def publish(raw: bytes, url: str, token: str, timeout_seconds: float) -> tuple[int, dict]:
    """PUT the document; return (status, JSON answer). Raises OSError when unreachable."""
    request = urllib.request.Request(
        ingest_url(url), data=raw, method="PUT",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_seconds) as resp:
            return resp.status, _json(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, _json(exc.read())


def _json(body: bytes) -> dict:
    try:
        answer = json.loads(body)
    except ValueError:
        return {"error": body[:200].decode("utf-8", "replace")}
    return answer if isinstance(answer, dict) else {"answer": answer}


def run(args: argparse.Namespace) -> int:
    token = args.token or os.environ.get("G6_INGEST_TOKEN")
    if not token:
        print("publish: no token (--token or G6_INGEST_TOKEN)", file=sys.stderr)
        return 2
    try:
        if args.file == "-":
            raw = sys.stdin.buffer.read()
        else:
            with open(args.file, "rb") as fh:
                raw = fh.read()
        json.loads(raw)
    except OSError as exc:
        print(f"publish: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    except ValueError:
        print(f"publish: {args.file} is not valid JSON", file=sys.stderr)
        return 2
    try:
        status, answer = publish(raw, args.url, token, args.timeout_seconds)
    except (OSError, ValueError) as exc:
        print(f"publish: {args.url}: {exc}", file=sys.stderr)
        return 1
    if 200 <= status < 300:
        print(json.dumps(answer))
        return 0
    print(f"publish: HTTP {status}: {answer.get('error', answer)}", file=sys.stderr)
    return 1
