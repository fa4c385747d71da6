"""The bench report's arithmetic: percentiles, change coverage and what --check refuses."""

from __future__ import annotations

from types import SimpleNamespace

from g6app.bench.report import change_coverage, failed_checks, latency_summary, percentile


def test_percentile_is_nearest_rank():
    """p50 of 1..10 is 5, p90 is 9, p99 and p100 are 10; no values gives None."""
    values = [float(v) for v in range(1, 11)]
    assert [percentile(values, p) for p in (50, 90, 99, 100)] == [5.0, 9.0, 10.0, 10.0]
    assert percentile([], 50) is None


def test_latency_summary_reports_milliseconds():
    """Seconds in, milliseconds out, with max and the sample count."""
    summary = latency_summary([0.002, 0.001, 0.004], "latency")
    assert summary == {"latency_samples": 3, "latency_p50_ms": 2.0, "latency_p90_ms": 4.0,
                       "latency_p99_ms": 4.0, "latency_max_ms": 4.0}


def test_change_coverage_counts_gaps_after_each_snapshot():
    """A client that saw every change after its snapshot is complete; gaps are summed."""
    conns = [SimpleNamespace(snapshot_seq=0, seqs=10), SimpleNamespace(snapshot_seq=4, seqs=3),
             SimpleNamespace(snapshot_seq=None, seqs=0)]
    assert change_coverage(conns, last_seq=10) == {
        "clients_with_updates": 2, "clients_all_changes": 1, "changes_missed_total": 3}


def test_failed_checks_names_each_problem():
    """Missing snapshots, parse errors and connection errors each make --check fail."""
    good = {"clients": 5, "full_snapshot_clients": 5, "parse_errors_total": 0,
            "connection_errors": {}}
    assert failed_checks(good) == []
    bad = dict(good, full_snapshot_clients=4, parse_errors_total=2,
               connection_errors={"ECONNREFUSED": 1})
    assert len(failed_checks(bad)) == 3
