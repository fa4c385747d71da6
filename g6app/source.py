"""Where the status document comes from: the file source (stat-polled JSON file).

Owns change detection, reading, size and shape validation, and "once per incident" error
reporting. It does not build panels or notify anyone: the hub polls it and decides.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reading:
    """What one poll found: a new good document, or the start of a new error incident."""

    document: dict[str, Any] | None = None
    error: str | None = None


class SourceError(Exception):
    """A status document that cannot be used; the message is safe to show to clients."""


def write_atomic(path: str, document: dict[str, Any], create_directory: bool = False) -> None:
    """Replace ``path`` with the JSON document in one rename: a temporary file in the same
    directory, flushed to disk first, so a reader sees the old document or the new, never half.
    A missing directory is an error unless ``create_directory`` (the demo's first write)."""
    directory = os.path.dirname(os.path.abspath(path))
    if create_directory:
        os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".status-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def seconds_since(moment: float | None, clock: Callable[[], float]) -> float | None:
    """Age of a wall-clock ``moment`` (never negative: clocks of writers may run ahead)."""
    return None if moment is None else max(0.0, clock() - moment)


def parse_document(raw: bytes, max_bytes: int) -> dict[str, Any]:
    """Validate and decode one status document: UTF-8 JSON object within the size cap."""
    if len(raw) > max_bytes:
        raise SourceError(f"status document larger than {max_bytes} bytes")
    if not raw.strip():
        raise SourceError("status document is empty")
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise SourceError(f"status document is not valid JSON ({type(exc).__name__})") from None
    if not isinstance(document, dict):
        raise SourceError(f"status document is a JSON {type(document).__name__}, not an object")
    return document


class FileSource:
    """Polls one JSON file by (mtime, size, inode); reads it only when that signature changes."""

    kind = "file"

    def __init__(self, path: str, max_bytes: int, clock: Callable[[], float] = time.time):
        self.path = path
        self.max_bytes = max_bytes
        self._clock = clock
        self._signature: tuple[int, int, int] | None = None
        self._in_incident = False
        self.last_change: float | None = None  # wall time of the last good document
        self.last_error: str | None = None
        # Why the source cannot be read at all now (gone, unreadable): not ready at once. A bad
        # document is only an error: the last good state serves until it grows stale.
        self.unavailable: str | None = None
        self.has_read = False

    def poll(self) -> Reading | None:
        """Return a Reading when something new happened since the last poll, else None."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            if not self.has_read:
                return None
            return self._fail("status file missing", signature=None, unavailable=True)
        except OSError as exc:
            return self._fail(f"status file cannot be read ({exc.strerror})", signature=None,
                              unavailable=True)
        signature = (st.st_mtime_ns, st.st_size, st.st_ino)
        if signature == self._signature:
            return None
        if st.st_size > self.max_bytes:
            return self._fail(f"status document larger than {self.max_bytes} bytes", signature)
        try:
            with open(self.path, "rb") as fh:
                raw = fh.read(self.max_bytes + 1)
            document = parse_document(raw, self.max_bytes)
        except SourceError as exc:
            return self._fail(str(exc), signature)
        except OSError as exc:
            return self._fail(f"status file cannot be read ({exc.strerror})", signature,
                              unavailable=True)
        self._signature = signature
        self.has_read = True
        self.last_change = st.st_mtime
        self.last_error = None
        self.unavailable = None
        if self._in_incident:
            logger.info("status source recovered path=%s", self.path)
        self._in_incident = False
        return Reading(document=document)

    def _fail(self, message: str, signature: tuple[int, int, int] | None,
              unavailable: bool = False) -> Reading | None:
        self._signature = signature
        self.last_error = message
        self.unavailable = message if unavailable else None
        if self._in_incident:
            return None
        self._in_incident = True
        logger.warning("status source error path=%s error=%s", self.path, message)
        return Reading(error=message)

    def store(self, document: dict[str, Any]) -> None:
        """Replace the file atomically (ingest), so every worker reads all of it or none."""
        write_atomic(self.path, document)

    def start(self) -> None:
        """Nothing runs in the background: each poll stats the file."""

    def stop(self) -> None:
        """Nothing to stop."""

    def age_seconds(self) -> float | None:
        """Seconds since the last good document was written, None before the first."""
        return seconds_since(self.last_change, self._clock)

    def describe(self) -> dict[str, Any]:
        """The source's part of /summary/health."""
        return {
            "kind": self.kind,
            "path": self.path,
            "last_change": self.last_change,
            "age_seconds": self.age_seconds(),
            "last_error": self.last_error,
        }
