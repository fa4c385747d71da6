"""The Redis status source: the document lives in one key, each change is announced on a stream.

Owns the background reader (one Redis connection per worker), reconnecting with backoff, and
handing the newest document or a new error incident to the hub's cheap, non-blocking ``poll``.
It does not build panels and does not decide admission (see redis_limits).

Why a stream and not pub/sub: one ordinary connection can both wait for announcements
(``XREAD BLOCK``) and ``GET`` the key, and reading on from the id seen before the catch-up
``GET`` leaves no window in which a change is missed, even across a reconnect.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .source import Reading, SourceError, parse_document, seconds_since

logger = logging.getLogger(__name__)

KEY = "g6app:status"
CHANGES = "g6app:status:changes"
CHANGES_MAXLEN = 64
BLOCK_SECONDS = 2.0
CONNECT_TIMEOUT_SECONDS = 3.0
BACKOFF_INITIAL_SECONDS = 0.2
BACKOFF_MAX_SECONDS = 5.0


def redact_url(url: str) -> str:
    """The URL without its password, for health output and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


def connect(url: str, *, pool_size: int | None = None,
            socket_timeout_seconds: float = CONNECT_TIMEOUT_SECONDS) -> redis.Redis:
    """A client without redis-py's own retries (callers back off); pooled when ``pool_size``."""
    options: dict[str, Any] = {
        "socket_timeout": socket_timeout_seconds,
        "socket_connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "retry": Retry(NoBackoff(), 0),
    }
    if pool_size is None:
        return redis.Redis.from_url(url, single_connection_client=True, **options)
    pool = redis.BlockingConnectionPool.from_url(
        url, max_connections=pool_size, timeout=CONNECT_TIMEOUT_SECONDS, **options)
    return redis.Redis(connection_pool=pool)


def encode_document(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def write_document(client: redis.Redis, raw: bytes, key: str = KEY,
                   changes: str = CHANGES) -> bytes:
    """SET the key and announce the change, in one transaction; return the stream entry id."""
    pipe = client.pipeline(transaction=True)
    pipe.set(key, raw)
    pipe.xadd(changes, {"sha256": hashlib.sha256(raw).hexdigest()},
              maxlen=CHANGES_MAXLEN, approximate=True)
    return pipe.execute()[1]


def entry_seconds(entry_id: bytes | None) -> float | None:
    """Wall time (Redis's clock) at which a stream entry was added: its id's milliseconds."""
    if not entry_id:
        return None
    return int(entry_id.split(b"-", 1)[0]) / 1000.0


class RedisSource:
    """Follows one Redis key; ``start`` runs the reader, ``poll`` hands over what it found."""

    kind = "redis"

    def __init__(self, url: str, max_bytes: int, clock: Callable[[], float] = time.time,
                 key: str = KEY, changes: str = CHANGES, block_seconds: float = BLOCK_SECONDS):
        self.url = url
        self.max_bytes = max_bytes
        self.key = key
        self.changes = changes
        self._clock = clock
        self._block_seconds = block_seconds
        self._lock = threading.Lock()
        self._pending: list[tuple[Reading, float]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._writer: redis.Redis | None = None
        self._backoff_seconds = BACKOFF_INITIAL_SECONDS
        self._in_incident = False
        self.last_change: float | None = None  # wall time the current document was written
        self.last_error: str | None = None
        self.unavailable: str | None = None  # why Redis cannot be followed now; None when it can
        self.has_read = False

    # -- the hub's side ---------------------------------------------------------------------

    def poll(self) -> Reading | None:
        """The oldest reading the reader has handed over since the last poll, else None."""
        with self._lock:
            if not self._pending:
                return None
            reading, written_at = self._pending.pop(0)
        if reading.document is not None:
            self.has_read = True
            self.last_change = written_at
        return reading

    def age_seconds(self) -> float | None:
        """Seconds since the current document was written, None before the first."""
        return seconds_since(self.last_change, self._clock)

    def describe(self) -> dict[str, Any]:
        """The source's part of /summary/health."""
        return {
            "kind": self.kind,
            "url": redact_url(self.url),
            "key": self.key,
            "connected": self._thread is not None and self.unavailable is None,
            "last_change": self.last_change,
            "age_seconds": self.age_seconds(),
            "last_error": self.last_error,
        }

    def store(self, document: dict[str, Any]) -> None:
        """Write a document for every worker of every instance (ingest); OSError when down."""
        if self._writer is None:
            self._writer = connect(self.url, pool_size=2)
        try:
            write_document(self._writer, encode_document(document), self.key, self.changes)
        except redis.RedisError as exc:
            raise ConnectionError(f"redis unreachable ({type(exc).__name__})") from None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the reader (a greenlet under gevent's patched threading)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self.unavailable = "redis not connected yet"
        self._thread = threading.Thread(target=self._run, name="g6app-redis", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the reader to end; it does within one blocking read."""
        self._stop.set()

    # -- the reader ---------------------------------------------------------------------------

    def _run(self) -> None:
        logger.info("redis source started url=%s key=%s", redact_url(self.url), self.key)
        while not self._stop.is_set():
            try:
                self._follow()
            except redis.RedisError as exc:
                self._lost(f"redis unreachable ({type(exc).__name__})")
            except Exception:  # a bug must not end the reader: log, back off, go on
                logger.exception("redis source reader failed")
                self._lost("redis source reader failed")
            self._stop.wait(self._backoff_seconds * random.uniform(0.5, 1.0))
            self._backoff_seconds = min(2 * self._backoff_seconds, BACKOFF_MAX_SECONDS)

    def _follow(self) -> None:
        """Catch up (latest entry id, then GET), then read announcements until stopped."""
        client = connect(self.url, socket_timeout_seconds=self._block_seconds + CONNECT_TIMEOUT_SECONDS)
        try:
            latest = client.xrevrange(self.changes, count=1)
            last_id = latest[0][0] if latest else b"0-0"
            self._fetch(client, latest[0][0] if latest else None)
            if self.unavailable is not None:
                logger.info("redis source connected url=%s", redact_url(self.url))
            self.unavailable = None
            self._backoff_seconds = BACKOFF_INITIAL_SECONDS
            block_ms = int(self._block_seconds * 1000)
            while not self._stop.is_set():
                reply = client.xread({self.changes: last_id}, block=block_ms, count=CHANGES_MAXLEN)
                if reply:
                    last_id = reply[0][1][-1][0]
                    self._fetch(client, last_id)
        finally:
            client.close()

    def _fetch(self, client: redis.Redis, entry_id: bytes | None) -> None:
        raw = client.get(self.key)
        if raw is None:
            if self.has_read or self._pending:
                self._incident("status key missing in redis")
            return
        try:
            document = parse_document(raw, self.max_bytes)
        except SourceError as exc:
            self._incident(str(exc))
            return
        if self._in_incident:
            logger.info("status source recovered key=%s", self.key)
        self._in_incident = False
        self.last_error = None
        written_at = entry_seconds(entry_id) or self._clock()
        with self._lock:
            self._pending = [item for item in self._pending if item[0].document is None]
            self._pending.append((Reading(document=document), written_at))

    def _lost(self, message: str) -> None:
        if self.unavailable is None:
            logger.warning("redis source disconnected url=%s error=%s",
                           redact_url(self.url), message)
        self.unavailable = message
        self._incident(message)

    def _incident(self, message: str) -> None:
        self.last_error = message
        if self._in_incident:
            return
        self._in_incident = True
        logger.warning("status source error key=%s error=%s", self.key, message)
        with self._lock:
            self._pending.append((Reading(error=message), self._clock()))
            del self._pending[:-4]
