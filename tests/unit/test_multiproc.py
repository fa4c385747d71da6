"""Folding dead workers' metric files: exact totals, idempotence, locking and interruptions."""

from __future__ import annotations

import fcntl
import os
import struct
from pathlib import Path

import pytest
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector

from g6app import multiproc
from g6app.multiproc import LockedCollector, dead_ids, fold


def key(metric: str, sample: str, labels: dict[str, str] | None = None) -> str:
    labels = labels or {}
    return mmap_key(metric, sample, list(labels), list(labels.values()), f"{metric} help")


def write(directory: Path, name: str, values: dict[str, float], stamp: float = 0.0) -> None:
    db = MmapedDict(str(directory / name))
    for k, v in values.items():
        db.write_value(k, v, stamp)
    db.close()


def worker_files(directory: Path, pid: int, scale: float) -> None:
    """The files one worker leaves: a counter, a labelled counter, a histogram, gauges."""
    write(directory, f"counter_{pid}.db", {
        key("g6_c", "g6_c_total"): 1 * scale,
        key("g6_r", "g6_r_total", {"result": "hit"}): 2 * scale})
    write(directory, f"histogram_{pid}.db", {
        key("g6_h", "g6_h_bucket", {"le": "1.0"}): 1 * scale,
        key("g6_h", "g6_h_bucket", {"le": "+Inf"}): 2 * scale,
        key("g6_h", "g6_h_sum"): 3.5 * scale})
    write(directory, f"gauge_max_{pid}.db", {key("g6_max", "g6_max"): scale})
    write(directory, f"gauge_min_{pid}.db", {key("g6_min", "g6_min"): scale})
    write(directory, f"gauge_sum_{pid}.db", {key("g6_sum", "g6_sum"): scale})
    write(directory, f"gauge_mostrecent_{pid}.db", {key("g6_mr", "g6_mr"): scale}, stamp=pid)
    write(directory, f"gauge_all_{pid}.db", {key("g6_all", "g6_all"): scale})
    write(directory, f"gauge_livesum_{pid}.db", {key("g6_live", "g6_live"): scale})


def totals(directory: Path, collect=None) -> dict[tuple, float]:
    """Sample (name, labels) -> value, as a scrape would compute it."""
    families = collect() if collect else MultiProcessCollector.merge(
        [str(p) for p in directory.glob("*.db")])
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in families for s in family.samples
            if family.name != "g6_metrics_multiproc_files"}


def without_live(samples: dict[tuple, float]) -> dict[tuple, float]:
    return {k: v for k, v in samples.items() if k[0] != "g6_live"}


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    for pid, scale in ((101, 1), (102, 10), (103, 100)):
        worker_files(tmp_path, pid, scale)
    return tmp_path


def kill(directory: Path, *pids: int) -> None:
    """What mark_process_dead does: remove the live gauges of dead processes."""
    for pid in pids:
        (directory / f"gauge_livesum_{pid}.db").unlink()


def test_fold_keeps_every_total_exact(directory):
    """Folding two dead workers leaves the scrape's counters, histograms and gauges unchanged."""
    kill(directory, 101, 102)
    before = totals(directory)
    assert fold(str(directory), [101, 102]) == 12
    after = totals(directory, LockedCollector(str(directory)).collect)
    assert after == before
    assert after[("g6_c_total", ())] == 111
    assert after[("g6_h_bucket", (("le", "+Inf"),))] == 333  # cumulative: 1 + 2 per worker
    assert after[("g6_h_count", ())] == 333
    assert after[("g6_max", ())] == 100 and after[("g6_min", ())] == 1
    assert after[("g6_mr", ())] == 100 and after[("g6_live", ())] == 100
    names = sorted(p.name for p in directory.glob("*.db"))
    assert "counter_archive.db" in names and "histogram_archive.db" in names
    assert not [n for n in names if n.endswith(("_101.db", "_102.db")) and "gauge_all" not in n]


def test_fold_leaves_all_mode_gauges_and_live_workers_alone(directory):
    """Gauges in "all" mode keep one series per pid, so their files stay; live workers' too."""
    fold(str(directory), [101])
    assert (directory / "gauge_all_101.db").exists()
    assert (directory / "counter_103.db").exists()
    assert (directory / "gauge_livesum_101.db").exists()  # mark_process_dead's job, not fold's


def test_fold_is_idempotent_and_accumulates_across_folds(directory):
    """Folding the same pid again changes nothing; folding one pid at a time equals one fold."""
    kill(directory, 101, 102)
    before = totals(directory)
    assert fold(str(directory), [101]) == 6
    assert fold(str(directory), [101]) == 0
    assert fold(str(directory), [102]) == 6
    assert fold(str(directory), [101, 102, "archive"]) == 0
    assert totals(directory) == before


def test_fold_then_new_worker_with_reused_pid_counts_separately(directory):
    """A new process reusing a folded pid starts a fresh file; the archive keeps the old counts."""
    kill(directory, 101)
    fold(str(directory), [101])
    write(directory, "counter_101.db", {key("g6_c", "g6_c_total"): 5})
    assert totals(directory)[("g6_c_total", ())] == 116


def test_dead_ids_lists_processes_not_alive(directory):
    """Files of processes outside the live set are found; archives and live pids are not."""
    fold(str(directory), [101])
    assert dead_ids(str(directory), [103]) == {"101", "102"}  # gauge_all_101 remains
    assert dead_ids(str(directory), [101, 102, 103]) == set()


def test_collector_reads_under_shared_lock_and_counts_files(directory, monkeypatch):
    """While the collector reads, an exclusive lock (a fold) cannot be taken."""
    lock_path = directory / multiproc.LOCK_NAME
    real_merge = MultiProcessCollector.merge
    seen = []

    def merge(files, accumulate=True):
        fd = os.open(lock_path, os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # other scrapes are not blocked
            seen.append(len(files))
        finally:
            os.close(fd)
        return real_merge(files, accumulate)

    monkeypatch.setattr(MultiProcessCollector, "merge", staticmethod(merge))
    families = LockedCollector(str(directory)).collect()
    files_family = [f for f in families if f.name == "g6_metrics_multiproc_files"]
    assert seen == [24]
    assert files_family[0].samples[0].value == 24


def test_fold_merges_under_exclusive_lock(directory, monkeypatch):
    """While a fold merges, no scrape can take the shared lock."""
    real = multiproc.merge_files
    checked = []

    def merge_files(files, reducer):
        fd = os.open(directory / multiproc.LOCK_NAME, os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        finally:
            os.close(fd)
        checked.append(reducer)
        return real(files, reducer)

    monkeypatch.setattr(multiproc, "merge_files", merge_files)
    fold(str(directory), [101])
    assert checked


def test_fold_interrupted_before_commit_changes_nothing(directory, monkeypatch):
    """A fold that fails before its journal is written leaves totals and files as they were."""
    kill(directory, 101)
    before = totals(directory)
    files_before = sorted(p.name for p in directory.glob("*.db"))

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(multiproc, "_write_journal", crash)
    with pytest.raises(OSError):
        fold(str(directory), [101])
    assert sorted(p.name for p in directory.glob("*.db")) == files_before
    assert totals(directory, LockedCollector(str(directory)).collect) == before
    monkeypatch.undo()
    assert fold(str(directory), [101]) == 6
    assert totals(directory) == before
    assert not list(directory.glob("*.tmp"))


def test_fold_interrupted_after_commit_is_finished_not_double_counted(directory, monkeypatch):
    """Archives written but dead files not yet deleted: the next scrape completes the fold."""
    kill(directory, 101)
    before = totals(directory)
    real_replace = os.replace
    replaced = []

    def replace_then_crash(src, dst):
        real_replace(src, dst)
        if str(dst).endswith("_archive.db"):
            replaced.append(dst)
            raise OSError("interrupted")

    monkeypatch.setattr(multiproc.os, "replace", replace_then_crash)
    with pytest.raises(OSError):
        fold(str(directory), [101])
    monkeypatch.undo()
    assert replaced and (directory / "counter_101.db").exists()
    assert (directory / multiproc.JOURNAL_NAME).exists()
    assert totals(directory, LockedCollector(str(directory)).collect) == before
    assert not (directory / multiproc.JOURNAL_NAME).exists()
    assert not (directory / "counter_101.db").exists()
    assert fold(str(directory), [101]) == 0
    assert totals(directory) == before


def test_collector_skips_a_file_not_yet_sized(directory):
    """A file a starting worker has created but not sized yet is skipped, not a failed scrape."""
    before = totals(directory, LockedCollector(str(directory)).collect)
    (directory / "counter_104.db").touch()
    with pytest.raises(struct.error):  # what prometheus_client alone does
        MultiProcessCollector.merge([str(p) for p in directory.glob("*.db")])
    assert totals(directory, LockedCollector(str(directory)).collect) == before


def test_fold_removes_an_empty_file_of_a_worker_that_died_booting(directory):
    """A worker killed between creating and sizing its file leaves an empty file: folded away."""
    kill(directory, 101)
    before = totals(directory)
    (directory / "histogram_105.db").touch()
    assert fold(str(directory), [101, 105]) == 7
    assert not (directory / "histogram_105.db").exists()
    assert totals(directory) == before
