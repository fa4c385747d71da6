"""Operators' artifacts: alert rules pass promtool and their unit tests, and the rules and the
Grafana dashboard only name metrics that a real gunicorn running g6app exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.metrics import scrape

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
RULES_TEST = ROOT / "deploy" / "prometheus" / "rules_test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "g6app.json"
G6_NAME = re.compile(r"\bg6_[a-z0-9_]+")
needs_promtool = pytest.mark.skipif(shutil.which("promtool") is None, reason="no promtool")


def promtool(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(["promtool", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60)


def rules_names() -> set[str]:
    """Every g6 metric name in the rules file outside comments (exprs and annotations)."""
    lines = [line for line in RULES.read_text().splitlines() if not line.lstrip().startswith("#")]
    return set(G6_NAME.findall("\n".join(lines)))


def dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    exprs += [var["definition"] for var in dashboard["templating"]["list"] if "definition" in var]
    return exprs


@needs_promtool
def test_rules_pass_promtool_check():
    """`promtool check rules` accepts deploy/prometheus/rules.yml."""
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_rules_unit_tests_pass():
    """Every alert fires (and stays quiet) as rules_test.yml expects, per `promtool test rules`."""
    result = promtool("test", "rules", RULES_TEST.name, cwd=RULES_TEST.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_artifacts_name_only_exported_metrics(gunicorn_server):
    """Each dashboard query names g6 metrics, and those and the alerts' are in a real scrape."""
    server = gunicorn_server(workers=2)
    exported = set(scrape(server))
    exported |= {name.split("{", 1)[0] for name in exported}
    exprs = dashboard_exprs()
    assert len(exprs) >= 15
    assert len(rules_names()) >= 5
    missing = {"rules.yml": sorted(rules_names() - exported)} if rules_names() - exported else {}
    for expr in exprs:
        names = set(G6_NAME.findall(expr))
        assert names, f"query names no g6 metric: {expr}"
        unknown = names - exported
        if unknown:
            missing[expr] = sorted(unknown)
    assert not missing, missing


def test_dashboard_is_grafana_json_with_unique_panel_ids():
    """The dashboard parses, every panel has a unique id, a datasource and at least one target."""
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["targets"] and panel["datasource"]["type"] == "prometheus", panel["title"]
        assert all(target["refId"] for target in panel["targets"])
