"""Two gunicorn instances sharing a real Redis, behind a real nginx running deploy/nginx.conf.

nginx connects to the instances from 127.0.0.2 (``proxy_bind``), the only trusted proxy, so a
direct client on 127.0.0.1 cannot borrow another address through X-Forwarded-For.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from pathlib import Path

import pytest

from g6app.publish import publish
from g6app.redis_limits import SLOTS_KEY
from g6app.redis_source import connect
from tests.support import status
from tests.support.nginx import NginxServer
from tests.support.redis import RedisServer
from tests.support.sse import SSEClient
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration

TOKEN = "cluster-ingest-token"
PROXY_ADDRESS = "127.0.0.2"
ALLOWED_CLIENT = "127.0.0.5"
REFRESH_SECONDS = 0.1


def with_cycle(cycle: int) -> dict:
    document = status.load(status.SIM_OPEN)
    document["loop"]["cycle"] = cycle
    return document


@pytest.fixture
def cluster(request: pytest.FixtureRequest, tmp_path: Path, gunicorn_server):
    """``cluster(**env)`` -> (redis, [instance A, instance B], nginx); all stopped after."""
    started: list = []

    def start(**env: str):
        redis_server = RedisServer(tmp_path / "redis").start()
        started.append(redis_server)
        settings = {"G6_REDIS_URL": redis_server.url, "G6_TRUSTED_PROXIES": f"{PROXY_ADDRESS}/32",
                    "G6_INGEST_TOKEN": TOKEN, "G6_SUMMARY_REFRESH_SEC": str(REFRESH_SECONDS),
                    **env}
        instances = [gunicorn_server(env=settings, workers=2, name=name) for name in "ab"]
        nginx = NginxServer(tmp_path / "nginx", [f"127.0.0.1:{i.port}" for i in instances],
                            proxy_bind=PROXY_ADDRESS).start()
        started.append(nginx)
        return redis_server, instances, nginx

    yield start
    for process in reversed(started):
        if isinstance(process, NginxServer):
            request.node.add_report_section("teardown", "nginx error log", process.log()[-10000:])
            process.stop()
        else:
            process.kill()


def push(url: str, cycle: int) -> dict:
    code, answer = publish(json.dumps(with_cycle(cycle)).encode(), url, TOKEN, 10)
    assert code == 200, answer
    return answer


def all_serving(instances, cycle: int) -> None:
    """Until every worker of every instance serves ``cycle`` (one worker answering is not
    enough: a stream may land on the other, still holding the previous state)."""
    for instance in instances:
        instance.wait_all_workers(lambda health: health["cycle"] == cycle)


def request_from(source_address: str, url: str, path: str,
                 headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One GET sent from ``source_address``: status, headers and (for a non-stream) body."""
    host, port = url.split("//", 1)[1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5,
                                  source_address=(source_address, 0)) as sock:
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Connection: close",
                 *(f"{k}: {v}" for k, v in (headers or {}).items())]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        found = {k.strip().lower(): v.strip()
                 for k, _, v in (line.partition(":") for line in header_lines)}
        length = int(found.get("content-length", "-1"))
        while length >= 0 and len(body) < length and (chunk := sock.recv(4096)):
            body += chunk
    return int(status_line.split()[1]), found, body


def status_from(source_address: str, url: str, path: str,
                headers: dict[str, str] | None = None) -> int:
    return request_from(source_address, url, path, headers)[0]


def live_slots(url: str) -> int:
    """Connection slots whose lease has not run out, on Redis's clock."""
    client = connect(url)
    try:
        seconds, micros = client.time()
        return client.zcount(SLOTS_KEY, seconds + micros / 1e6, "+inf")
    finally:
        client.close()


def holding_cycle(client: SSEClient, cycle: int) -> str:
    """Read until the client holds ``cycle`` (a worker may still be catching up); its state id."""
    events = client.events_until(
        lambda e: e.type in ("full_snapshot", "panel_update") and e.data["cycle"] == cycle, 10)
    assert events[0].type == "hello"
    return events[-1].id


def first_state(client: SSEClient) -> str:
    hello = client.next_event(10)
    assert hello.type == "hello"
    snapshot = client.next_event(10)
    assert snapshot.type == "full_snapshot"
    return snapshot.id


def test_cluster_ingest_reaches_clients_of_both_instances(cluster):
    """A push through nginx reaches streams on both instances and through nginx, unbuffered."""
    # No keepalive comment for a minute: an update held in a proxy buffer would miss the deadline.
    _, (a, b), nginx = cluster(G6_SSE_KEEPALIVE_SECONDS="60")
    push(nginx.url, 100)
    all_serving((a, b), 100)
    clients = [SSEClient.connect(a.url), SSEClient.connect(b.url),
               SSEClient.connect(nginx.url, headers={"Accept-Encoding": "gzip"})]
    try:
        held_ids = {holding_cycle(client, 100) for client in clients}
        assert len(held_ids) == 1, "every instance names the same state with the same id"
        proxied = clients[2].headers
        assert proxied["content-type"].startswith("text/event-stream")
        assert "content-encoding" not in proxied, "the stream is never compressed"
        pushed = time.monotonic()
        push(nginx.url, 101)
        updates = [client.events_until(lambda e: e.type == "panel_update", 5)[-1]
                   for client in clients]
        assert {u.data["cycle"] for u in updates} == {101}
        # Through nginx within one refresh interval (plus scheduling margin): nothing buffers it.
        assert updates[2].received_at - pushed < REFRESH_SECONDS + 0.4
        assert len({u.id for u in updates}) == 1
    finally:
        for client in clients:
            client.close()


def test_cluster_forwarded_for_trusted_from_proxy_only(cluster):
    """The allow-list sees the client's address via nginx, and ignores X-Forwarded-For otherwise."""
    _, (a, _), nginx = cluster(G6_SSE_IP_ALLOW=f"{ALLOWED_CLIENT}/32")
    forged = {"X-Forwarded-For": ALLOWED_CLIENT}
    assert status_from(ALLOWED_CLIENT, nginx.url, "/summary/events") == 200
    assert status_from("127.0.0.1", nginx.url, "/summary/events", forged) == 403
    assert status_from("127.0.0.1", a.url, "/summary/events", forged) == 403
    assert status_from(ALLOWED_CLIENT, a.url, "/summary/events") == 200
    # /metrics through nginx: the local monitoring address only.
    assert status_from("127.0.0.1", nginx.url, "/metrics") == 200
    assert status_from(ALLOWED_CLIENT, nginx.url, "/metrics") == 403
    assert status_from(ALLOWED_CLIENT, nginx.url, "/metrics/") == 403


def test_cluster_client_resumes_after_its_instance_stops(cluster):
    """A client of a stopped instance resumes through nginx by Last-Event-ID, without a snapshot."""
    _, (a, b), nginx = cluster()
    push(nginx.url, 200)
    all_serving((a, b), 200)
    with SSEClient.connect(a.url) as client:
        held = first_state(client)
        a.signal(signal.SIGTERM)
        bye = client.events_until(lambda e: e.type == "bye", 10)[-1]
        assert bye.data["reason"] == "shutdown" and bye.id == held
    a.wait(20)
    with SSEClient.connect(nginx.url, headers={"Last-Event-ID": held}) as client:
        hello = client.next_event(10)
        assert hello.type == "hello" and hello.id == held
        push(nginx.url, 201)
        update = client.next_event(10)
        assert update.type == "panel_update" and update.data["cycle"] == 201


def test_cluster_cap_and_rate_hold_across_instances(cluster):
    """Cap and connect rate count streams on both instances; a SIGKILLed one's slots expire."""
    lease_seconds = 2
    redis_server, (a, b), _ = cluster(G6_SSE_MAX_CONNECTIONS="4", G6_SSE_IP_CONNECT_RATE="6/600",
                               G6_REDIS_LEASE_SECONDS=str(lease_seconds))
    streams = [SSEClient.connect(server.url) for server in (a, a, b, b)]
    try:
        assert [s.status for s in streams] == [200] * 4
        code, _, body = request_from("127.0.0.1", b.url, "/summary/events")
        assert (code, json.loads(body)) == (429, {"error": "too many connections"})
        os.killpg(a.proc.pid, signal.SIGKILL)
        a.wait(10)
        wait_until(lambda: live_slots(redis_server.url) == 2, 3 * lease_seconds + 5,
                   message="the killed instance's leases expired")
        assert status_from("127.0.0.1", b.url, "/summary/events") == 200
        code, headers, body = request_from("127.0.0.1", b.url, "/summary/events")
        assert (code, json.loads(body)) == (429, {"error": "rate limited"})
        assert int(headers["retry-after"]) > 0
    finally:
        for client in streams:
            client.close()
