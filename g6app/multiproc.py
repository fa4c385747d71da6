"""Keep the multiprocess metrics directory small: fold dead workers' files into archives.

``fold`` merges the files of exited workers into one ``<type>_archive.db`` per type (written
with prometheus_client's MmapedDict and keys, so MultiProcessCollector reads it like any other
file) and deletes them; ``LockedCollector`` reads the directory under a shared lock so a scrape
never sees a fold half done. Live gauges are mark_process_dead's business, not this module's.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import json
import logging
import os
from collections.abc import Iterable, Iterator

from prometheus_client.metrics_core import GaugeMetricFamily
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.multiprocess import MultiProcessCollector

logger = logging.getLogger(__name__)

LOCK_NAME = ".fold.lock"
JOURNAL_NAME = ".fold.journal"
ARCHIVE_ID = "archive"
# File prefix -> how values of the same key combine. Gauges in "all"/"liveall" modes keep a
# pid label per process, so they are never folded; live modes are removed by mark_process_dead.
REDUCERS = {
    "counter": "sum",
    "histogram": "sum",
    "summary": "sum",
    "gauge_sum": "sum",
    "gauge_max": "max",
    "gauge_min": "min",
    "gauge_mostrecent": "mostrecent",
}


@contextlib.contextmanager
def directory_lock(path: str, exclusive: bool) -> Iterator[None]:
    """flock on the directory's lock file: shared for scrapes, exclusive for folds."""
    fd = os.open(os.path.join(path, LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def split_name(filename: str) -> tuple[str, str] | None:
    """``counter_123.db`` -> ("counter", "123"); ``gauge_max_9.db`` -> ("gauge_max", "9")."""
    if not filename.endswith(".db"):
        return None
    prefix, _, ident = filename[:-3].rpartition("_")
    return (prefix, ident) if prefix else None


def _combine(reducer: str, old: tuple[float, float] | None, new: tuple[float, float]):
    if old is None:
        return new
    (value, stamp), (new_value, new_stamp) = old, new
    if reducer == "sum":
        return value + new_value, max(stamp, new_stamp)
    if reducer == "max":
        return max(value, new_value), max(stamp, new_stamp)
    if reducer == "min":
        return min(value, new_value), max(stamp, new_stamp)
    return new if new_stamp > stamp else old  # mostrecent


def _has_data(path: str) -> bool:
    """False for a file a starting process has created but not yet sized (it holds nothing;
    prometheus_client would fail reading it), or a live gauge just removed by its owner."""
    try:
        return os.path.getsize(path) > 0
    except FileNotFoundError:
        return False


def merge_files(files: Iterable[str], reducer: str) -> dict[str, tuple[float, float]]:
    """Every key of ``files`` with its values combined by ``reducer`` (raw, not cumulative)."""
    merged: dict[str, tuple[float, float]] = {}
    for path in filter(_has_data, files):
        for key, value, stamp, _ in MmapedDict.read_all_values_from_file(path):
            merged[key] = _combine(reducer, merged.get(key), (value, stamp))
    return merged


def write_archive(path: str, values: dict[str, tuple[float, float]]) -> None:
    """Write ``values`` to a new MmapedDict file at ``path``.

    No fsync: the directory is emptied whenever the server starts, so only a crash of this
    process matters, and the page cache already shows other processes every byte written."""
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)
    archive = MmapedDict(path)
    try:
        for key in sorted(values):
            archive.write_value(key, *values[key])
    finally:
        archive.close()


def _plan(path: str, pids: set[str]) -> tuple[dict[str, str], list[str]]:
    """Write the new archives as temporaries: {temporary: final} and the dead files they hold."""
    groups: dict[str, list[str]] = {}
    for file in glob.glob(os.path.join(path, "*.db")):
        parts = split_name(os.path.basename(file))
        if parts and parts[1] in pids and parts[0] in REDUCERS:
            groups.setdefault(parts[0], []).append(file)
    replacements: dict[str, str] = {}
    for prefix, dead in sorted(groups.items()):
        final = os.path.join(path, f"{prefix}_{ARCHIVE_ID}.db")
        sources = [final, *dead] if os.path.exists(final) else dead
        temporary = final + ".tmp"  # not *.db: invisible to collectors
        write_archive(temporary, merge_files(sources, REDUCERS[prefix]))
        replacements[temporary] = final
    return replacements, [file for dead in groups.values() for file in dead]


def _write_journal(path: str, replacements: dict[str, str], dead: list[str]) -> None:
    journal = os.path.join(path, JOURNAL_NAME)
    with open(journal + ".tmp", "w") as out:
        json.dump({"replace": replacements, "delete": dead}, out)
    os.replace(journal + ".tmp", journal)  # the commit point of a fold


def _apply_journal(path: str) -> bool:
    """Finish a committed fold (idempotent); False when there is none."""
    journal = os.path.join(path, JOURNAL_NAME)
    try:
        with open(journal) as source:
            plan = json.load(source)
    except FileNotFoundError:
        return False
    for temporary, final in plan["replace"].items():
        if os.path.exists(temporary):
            os.replace(temporary, final)
    for dead in plan["delete"]:
        with contextlib.suppress(FileNotFoundError):
            os.remove(dead)
    os.remove(journal)
    return True


def _discard_uncommitted(path: str) -> None:
    leftovers = [*glob.glob(os.path.join(path, "*.tmp")), os.path.join(path, JOURNAL_NAME + ".tmp")]
    for leftover in leftovers:
        with contextlib.suppress(FileNotFoundError):
            os.remove(leftover)


def recover(path: str) -> None:
    """Complete a committed fold or drop an uncommitted one. Caller holds the exclusive lock."""
    _apply_journal(path)
    _discard_uncommitted(path)


def dead_ids(path: str, live_pids: Iterable[int]) -> set[str]:
    """Process ids with files in ``path`` that are not among ``live_pids`` (archives excluded)."""
    live = {str(pid) for pid in live_pids}
    found = set()
    for file in glob.glob(os.path.join(path, "*.db")):
        parts = split_name(os.path.basename(file))
        if parts and parts[1].isdigit() and parts[1] not in live:
            found.add(parts[1])
    return found


def fold(path: str, pids: Iterable[int | str]) -> int:
    """Fold the files of the dead processes ``pids`` into the archives; the number folded."""
    wanted = {str(pid) for pid in pids} - {ARCHIVE_ID}
    with directory_lock(path, exclusive=True):
        recover(path)
        replacements, dead = _plan(path, wanted)
        if not dead:
            return 0
        _write_journal(path, replacements, dead)
        _apply_journal(path)
    logger.debug("metrics files folded count=%s", len(dead))
    return len(dead)


class LockedCollector:
    """MultiProcessCollector's reading under the shared lock, plus a count of the files read."""

    def __init__(self, path: str, registry=None):
        self._path = path
        if registry is not None:
            registry.register(self)

    def _pending_journal(self) -> bool:
        return os.path.exists(os.path.join(self._path, JOURNAL_NAME))

    def collect(self):
        if self._pending_journal():  # a fold was interrupted after its commit: finish it first
            with directory_lock(self._path, exclusive=True):
                recover(self._path)
        with directory_lock(self._path, exclusive=False):
            files = [f for f in glob.glob(os.path.join(self._path, "*.db")) if _has_data(f)]
            families = list(MultiProcessCollector.merge(files, accumulate=True))
        files_gauge = GaugeMetricFamily(
            "g6_metrics_multiproc_files",
            "Metric files in the multiprocess directory read by this scrape.")
        files_gauge.add_metric([], len(files))
        return [*families, files_gauge]
