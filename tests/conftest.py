"""Shared fixtures: status files, the Flask app, and real gunicorn servers."""

from __future__ import annotations

from pathlib import Path

import pytest

from g6app.app import create_app
from g6app.config import Settings
from tests.support import status
from tests.support.server import GunicornServer


@pytest.fixture
def status_file(tmp_path: Path) -> Path:
    """A status file holding the open-market simulator fixture."""
    path = tmp_path / "runtime_status.json"
    status.write(path, status.load(status.SIM_OPEN))
    return path


@pytest.fixture
def make_app(status_file: Path):
    """Build an app (Flask test client level) with settings overrides given as env strings."""
    def build(**env: str):
        settings = Settings.from_env({"G6_STATUS_FILE": str(status_file),
                                      "G6_SUMMARY_REFRESH_SEC": "0.05", **env})
        app = create_app(settings, environ={})
        app.testing = True
        return app
    return build


@pytest.fixture
def gunicorn_server(request: pytest.FixtureRequest, tmp_path: Path):
    """Start real gunicorn servers: ``gunicorn_server(env={...}, workers=2)``; all stopped after.

    Each server's log is attached to the test report, so a failure shows what gunicorn said."""
    servers: list[GunicornServer] = []

    def start(env: dict[str, str] | None = None, workers: int = 2, name: str | None = None,
              document: object = None, **kwargs) -> GunicornServer:
        workdir = tmp_path / (name or f"server{len(servers)}")
        server = GunicornServer(workdir, env=env, workers=workers, **kwargs)
        if document is not False and not server.status_file.exists():
            status.write(server.status_file, document or status.load(status.SIM_OPEN))
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()
        request.node.add_report_section("teardown", f"gunicorn log {server.workdir.name}",
                                        server.log()[-20000:])
