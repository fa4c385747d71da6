"""PUT /summary/status through Flask's test client with the file source: checks and storage."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from g6app.source import FileSource
from tests.support import status

TOKEN = "s3cret-ingest-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def with_cycle(cycle: int) -> dict:
    document = status.load(status.SIM_OPEN)
    document["loop"]["cycle"] = cycle
    return document


@pytest.fixture
def client(make_app):
    return make_app(G6_INGEST_TOKEN=TOKEN, G6_STATUS_MAX_BYTES="65536").test_client()


def put(client, body: bytes, headers: dict[str, str] | None = None,
        content_type: str = "application/json"):
    return client.put("/summary/status", data=body, content_type=content_type,
                      headers=headers if headers is not None else AUTH)


def test_ingest_stores_document_every_reader_sees(client, status_file: Path):
    """A valid push replaces the status file, and the next resync serves the new cycle."""
    response = put(client, json.dumps(with_cycle(777)).encode())
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["source"] == "file"
    assert json.loads(status_file.read_text())["loop"]["cycle"] == 777
    assert client.get("/summary/resync").get_json()["cycle"] == 777


def test_ingest_disabled_without_token_is_404(make_app):
    """With no G6_INGEST_TOKEN the endpoint does not exist: 404 with a JSON error."""
    response = make_app().test_client().put("/summary/status", json=with_cycle(1), headers=AUTH)
    assert response.status_code == 404
    assert response.get_json() == {"error": "ingest disabled"}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"},
                                     {"Authorization": f"Basic {TOKEN}"},
                                     {"Authorization": "Bearer"}])
def test_ingest_wrong_or_missing_token_is_401(client, status_file: Path, headers):
    """Without the exact bearer token nothing is stored and the answer is 401."""
    before = status_file.read_bytes()
    response = put(client, json.dumps(with_cycle(5)).encode(), headers=headers)
    assert response.status_code == 401
    assert response.get_json() == {"error": "unauthorized"}
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert status_file.read_bytes() == before


def test_ingest_non_json_media_type_is_415(client):
    """A body not declared as application/json is refused before it is read."""
    response = put(client, json.dumps(with_cycle(5)).encode(), content_type="text/plain")
    assert response.status_code == 415
    assert "application/json" in response.get_json()["error"]


def test_ingest_too_large_is_413(client, status_file: Path):
    """A body over G6_STATUS_MAX_BYTES is refused by its Content-Length, and nothing is stored."""
    before = status_file.read_bytes()
    big = json.dumps({"padding": "x" * 70000}).encode()
    response = put(client, big)
    assert response.status_code == 413
    assert response.get_json() == {"error": "status document larger than 65536 bytes"}
    assert status_file.read_bytes() == before


@pytest.mark.parametrize(("body", "reason"), [
    (b"{not json", "not valid JSON"),
    (b"[1, 2, 3]", "not an object"),
    (b"", "empty"),
    (b"\xff\xfe{}", "not valid JSON"),
])
def test_ingest_invalid_document_is_400(client, status_file: Path, body: bytes, reason: str):
    """Invalid JSON or a non-object is refused with a reason, and the last good file stays."""
    before = status_file.read_bytes()
    response = put(client, body)
    assert response.status_code == 400
    assert reason in response.get_json()["error"]
    assert status_file.read_bytes() == before


def test_ingest_storage_failure_is_503(make_app, tmp_path: Path):
    """A source that cannot store (directory gone) answers 503 with a JSON error."""
    settings_file = tmp_path / "missing-dir" / "status.json"
    client = make_app(G6_INGEST_TOKEN=TOKEN, G6_STATUS_FILE=str(settings_file)).test_client()
    response = put(client, json.dumps(with_cycle(9)).encode())
    assert response.status_code == 503
    assert response.get_json() == {"error": "status source unavailable"}


def test_file_store_replaces_atomically(tmp_path: Path):
    """store() swaps in a new file (new inode) and leaves no temporary file behind."""
    path = tmp_path / "status.json"
    status.write(path, with_cycle(1))
    inode = os.stat(path).st_ino
    FileSource(str(path), 65536).store(with_cycle(2))
    assert json.loads(path.read_text())["loop"]["cycle"] == 2
    assert os.stat(path).st_ino != inode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["status.json"]


def test_file_store_failure_keeps_old_file(tmp_path: Path):
    """A document that cannot be written leaves the old file intact and no temporary file."""
    path = tmp_path / "status.json"
    status.write(path, with_cycle(1))
    with pytest.raises(TypeError):
        FileSource(str(path), 65536).store({"not serialisable": object()})
    assert json.loads(path.read_text())["loop"]["cycle"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["status.json"]
