"""gunicorn.conf.py as operators run it: the config checks, and bad settings stop the start."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.server import ROOT

pytestmark = pytest.mark.integration


def gunicorn(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gunicorn", *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=60, env={**os.environ, **(env or {})})


def test_gunicorn_config_check_passes():
    """``gunicorn --check-config -c gunicorn.conf.py wsgi:app`` accepts the shipped config."""
    result = gunicorn("--check-config", "-c", "gunicorn.conf.py", "wsgi:app")
    assert result.returncode == 0, result.stderr


def test_gunicorn_config_refuses_bad_settings_naming_each(tmp_path):
    """Two bad variables: the master exits non-zero with one message naming both, and no worker
    ever boots."""
    result = gunicorn("-c", "gunicorn.conf.py", "wsgi:app", env={
        "G6_SSE_MAX_CONNECTIONS": "lots", "G6_SSE_IP_ALLOW": "300.1.2.3",
        "G6_BIND": "127.0.0.1:0",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)})
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "G6_SSE_MAX_CONNECTIONS='lots'" in output
    assert "G6_SSE_IP_ALLOW='300.1.2.3'" in output
    assert "Booting worker" not in output
