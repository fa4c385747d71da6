"""Unit tests for g6app.source: the stat-polled status file and its once-per-incident errors."""

from __future__ import annotations

import builtins
import json
import os
from pathlib import Path

import pytest

from g6app import source as source_module
from g6app.source import FileSource, Reading, SourceError, parse_document
from tests.support import status

MAX_BYTES = 64 * 1024


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "runtime_status.json"


@pytest.fixture
def opens(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every file the source module opens, in order."""
    seen: list[str] = []

    def counting_open(file, *args, **kwargs):
        seen.append(str(file))
        return builtins.open(file, *args, **kwargs)

    monkeypatch.setattr(source_module, "open", counting_open, raising=False)
    return seen


def good(path: Path, cycle: int = 1) -> dict:
    document = {"loop": {"cycle": cycle}, "market": {"status": "OPEN"}}
    status.write(path, document)
    return document


def test_source_missing_before_first_read_is_waiting(path: Path):
    """No file yet: nothing to report, and no error recorded."""
    src = FileSource(str(path), MAX_BYTES)
    assert src.poll() is None
    assert src.poll() is None
    assert src.last_error is None and src.has_read is False
    assert src.age_seconds() is None


def test_source_good_read(path: Path):
    """A valid document is returned once, with last_change taken from the file's mtime."""
    document = good(path)
    src = FileSource(str(path), MAX_BYTES)
    assert src.poll() == Reading(document=document)
    assert src.has_read and src.last_error is None
    assert src.last_change == os.stat(path).st_mtime


def test_source_unchanged_file_not_reread(path: Path, opens: list[str]):
    """An unchanged (mtime, size, inode) signature means no read at all."""
    good(path)
    src = FileSource(str(path), MAX_BYTES)
    assert src.poll() is not None
    assert len(opens) == 1
    for _ in range(5):
        assert src.poll() is None
    assert len(opens) == 1
    good(path, cycle=2)
    assert src.poll() == Reading(document={"loop": {"cycle": 2}, "market": {"status": "OPEN"}})
    assert len(opens) == 2


@pytest.mark.parametrize("content, fragment", [
    ('{"loop": {"cycle": 1', "not valid JSON"),
    ("[1, 2, 3]", "not an object"),
    ('"just a string"', "not an object"),
    ("", "empty"),
    ("   \n", "empty"),
    ("x" * (MAX_BYTES + 1), "larger than"),
    (b"\xff\xfe{}", "not valid JSON"),
])
def test_source_invalid_document_one_error_per_incident(path: Path, content, fragment):
    """Each kind of bad document starts one incident: one error Reading, then silence."""
    good(path)
    src = FileSource(str(path), MAX_BYTES)
    assert src.poll() is not None
    if isinstance(content, bytes):
        path.with_name("raw.tmp").write_bytes(content)
        os.replace(path.with_name("raw.tmp"), path)
    else:
        status.write(path, content)
    reading = src.poll()
    assert reading is not None and reading.document is None
    assert fragment in reading.error
    assert src.last_error == reading.error
    assert src.poll() is None and src.poll() is None
    status.write(path, "{broken again, and longer")
    assert src.poll() is None  # same incident
    assert src.last_error is not None
    document = good(path, cycle=3)
    assert src.poll() == Reading(document=document)
    assert src.last_error is None


def test_source_second_incident_reported_again(path: Path):
    """After recovery, a new bad write is a new incident with its own error."""
    good(path)
    src = FileSource(str(path), MAX_BYTES)
    src.poll()
    status.write(path, "nope")
    assert src.poll().error
    good(path, cycle=2)
    assert src.poll().document
    status.write(path, "[]")
    assert "not an object" in src.poll().error


def test_source_deleted_after_read_is_one_error(path: Path):
    """A file that disappears after a good read is one error; the last good read stays usable."""
    good(path)
    src = FileSource(str(path), MAX_BYTES)
    src.poll()
    last_change = src.last_change
    path.unlink()
    reading = src.poll()
    assert reading == Reading(error="status file missing")
    assert src.poll() is None and src.poll() is None
    assert src.last_error == "status file missing"
    assert src.last_change == last_change
    document = good(path, cycle=9)
    assert src.poll() == Reading(document=document)
    assert src.last_error is None


def test_source_invalid_first_document_is_an_error(path: Path):
    """A bad document before any good one is still reported (once)."""
    status.write(path, "{")
    src = FileSource(str(path), MAX_BYTES)
    assert src.poll().error
    assert src.poll() is None
    assert src.age_seconds() is None


def test_source_age_seconds_with_injected_clock(path: Path):
    """age_seconds is clock minus the file's mtime, never negative."""
    good(path)
    os.utime(path, (1_000_000.0, 1_000_000.0))
    now = [1_000_042.5]
    src = FileSource(str(path), MAX_BYTES, clock=lambda: now[0])
    src.poll()
    assert src.age_seconds() == pytest.approx(42.5)
    now[0] = 999_000.0  # clock behind the file: clamped
    assert src.age_seconds() == 0.0


def test_source_describe(path: Path):
    """describe() gives kind, path, last change, age and last error for the health endpoint."""
    good(path)
    src = FileSource(str(path), MAX_BYTES, clock=lambda: os.stat(path).st_mtime + 3)
    src.poll()
    info = src.describe()
    assert info["kind"] == "file" and info["path"] == str(path)
    assert info["age_seconds"] == pytest.approx(3) and info["last_error"] is None
    json.dumps(info)  # serialisable as is


def test_source_parse_document_errors_are_client_safe():
    """parse_document raises SourceError with a message naming no path or traceback."""
    with pytest.raises(SourceError, match=r"^status document is not valid JSON \(JSONDecodeError\)$"):
        parse_document(b"{", 100)
    assert parse_document(b'{"a": 1}', 100) == {"a": 1}
