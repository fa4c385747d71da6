"""Admission rules on a real two-worker server: every rejection's code, body, header, counter."""

from __future__ import annotations

import os
import signal

import pytest

from tests.support.metrics import scrape
from tests.support.server import socket_owner_pid
from tests.support.sse import SSEClient
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration

TOKEN = "s3cret-Token-value"


def connect(server, path="/summary/events", **headers) -> SSEClient:
    return SSEClient.connect(server.url, path, headers=headers)


def assert_rejected(client: SSEClient, status: int, reason: str) -> None:
    assert client.status == status
    assert client.headers["content-type"] == "application/json"
    assert client.json() == {"error": reason}


def test_admission_token_accepted_from_each_carrier_and_never_logged(gunicorn_server):
    """Header, bearer and query token all open the stream; a missing or wrong one gets 401 JSON."""
    server = gunicorn_server(env={"G6_SSE_API_TOKEN": TOKEN})
    carriers = [
        ("/summary/events", {"X-API-Token": TOKEN}),
        ("/summary/events", {"Authorization": f"Bearer {TOKEN}"}),
        (f"/summary/events?access_token={TOKEN}", {}),
    ]
    for path, headers in carriers:
        with connect(server, path, **headers) as client:
            assert client.status == 200
            assert client.next_event().type == "hello"
    for path, headers in [("/summary/events", {}),
                          ("/summary/events", {"X-API-Token": "wrong"}),
                          ("/summary/events?access_token=wrong", {}),
                          ("/summary/events", {"Authorization": "Bearer " + TOKEN[:-1]})]:
        with connect(server, path, **headers) as client:
            assert_rejected(client, 401, "unauthorized")
    samples = scrape(server)
    assert samples["g6_sse_http_auth_fail_total"] == 4
    assert samples["g6_sse_http_rejected_connections_total"] == 4
    assert samples["g6_sse_http_connections_total"] == 3
    wait_until(lambda: server.log().count("GET /summary/events") >= 7, message="access log lines")
    assert TOKEN not in server.log()
    assert "access_token=[redacted]" in server.log()


def test_admission_ip_allow_list_with_cidr_ipv6_and_trusted_proxy(gunicorn_server):
    """CIDR and IPv6 entries apply to the peer, or to X-Forwarded-For only from a trusted proxy."""
    server = gunicorn_server(env={"G6_SSE_IP_ALLOW": "10.0.0.0/8, 2001:db8::/32",
                                  "G6_TRUSTED_PROXIES": "127.0.0.1/32"})
    with connect(server) as client:  # peer 127.0.0.1 is not allowed itself
        assert_rejected(client, 403, "forbidden")
    for forwarded in ("10.1.2.3", "192.0.2.1, 10.9.9.9", "2001:db8::5"):
        with connect(server, **{"X-Forwarded-For": forwarded}) as client:
            assert client.status == 200, forwarded
    with connect(server, **{"X-Forwarded-For": "2001:db9::1"}) as client:
        assert_rejected(client, 403, "forbidden")
    with connect(server, **{"X-Forwarded-For": "10.1.2.3, 192.0.2.7"}) as client:
        assert_rejected(client, 403, "forbidden")  # the right-most untrusted hop decides
    assert scrape(server)["g6_sse_http_forbidden_ip_total"] == 3


def test_admission_forwarded_for_ignored_from_untrusted_peer(gunicorn_server):
    """Without G6_TRUSTED_PROXIES a forged X-Forwarded-For changes nothing."""
    server = gunicorn_server(env={"G6_SSE_IP_ALLOW": "10.0.0.0/8"})
    with connect(server, **{"X-Forwarded-For": "10.1.2.3"}) as client:
        assert_rejected(client, 403, "forbidden")


def test_admission_user_agent_allow_list(gunicorn_server):
    """Only listed User-Agents stream; others get 403 and their own counter."""
    server = gunicorn_server(env={"G6_SSE_UA_ALLOW": "g6-dashboard,g6-watch"})
    with connect(server, **{"User-Agent": "g6-watch/1.0"}) as client:
        assert client.status == 200
    with connect(server, **{"User-Agent": "curl/8"}) as client:
        assert_rejected(client, 403, "forbidden")
    samples = scrape(server)
    assert samples["g6_sse_http_forbidden_ua_total"] == 1
    assert samples["g6_sse_http_forbidden_ip_total"] == 0


def test_admission_connect_rate_per_address_across_workers(gunicorn_server):
    """N/W holds for the whole server: the third stream in the window gets 429 + Retry-After."""
    server = gunicorn_server(env={"G6_SSE_IP_CONNECT_RATE": "2/60"})
    for _ in range(2):
        with connect(server) as client:
            assert client.status == 200
    with connect(server) as client:
        assert_rejected(client, 429, "rate limited")
        assert 1 <= int(client.headers["retry-after"]) <= 30
    samples = scrape(server)
    assert samples["g6_sse_http_rate_limited_total"] == 1
    assert samples["g6_sse_http_rejected_connections_total"] == 1


def test_admission_connection_cap_across_workers_and_after_kill(gunicorn_server):
    """Four streams spread over two workers fill a cap of 4; a SIGKILLed worker frees its slots."""
    server = gunicorn_server(env={"G6_SSE_MAX_CONNECTIONS": "4"}, workers=2)
    clients = []
    owners: dict[int, list[SSEClient]] = {}
    for _ in range(40):  # open until both workers hold streams and the cap is reached
        if len(clients) == 4:
            break
        client = connect(server)
        assert client.status == 200
        client.next_event()
        owner = socket_owner_pid(server, client.sock.getsockname()[1])
        if len(owners.get(owner, [])) >= 3:  # keep one slot for the other worker
            client.close()
            wait_until(lambda: scrape(server)["g6_sse_http_active_connections"] == len(clients))
            continue
        owners.setdefault(owner, []).append(client)
        clients.append(client)
    assert len(owners) == 2, "streams did not spread over both workers"
    with connect(server) as extra:
        assert_rejected(extra, 429, "too many connections")
        assert extra.headers["retry-after"] == "5"
    assert scrape(server)["g6_sse_http_too_many_connections_total"] == 1
    victim, held = next(iter(owners.items()))
    os.kill(victim, signal.SIGKILL)
    for client in held:
        client.close()
    wait_until(lambda: victim not in server.worker_pids() and len(server.worker_pids()) == 2)
    reopened = [connect(server) for _ in held]
    try:
        assert [c.status for c in reopened] == [200] * len(held)
        with connect(server) as extra:
            assert_rejected(extra, 429, "too many connections")
    finally:
        for client in reopened + clients:
            client.close()


def test_admission_cors_preflight_and_origin_header(gunicorn_server):
    """A configured origin is sent on the stream, and a preflight is answered without a body."""
    server = gunicorn_server(env={"G6_SSE_ALLOW_ORIGIN": "https://ops.example"})
    with connect(server) as client:
        assert client.headers["access-control-allow-origin"] == "https://ops.example"
    import urllib.request
    request = urllib.request.Request(server.url + "/summary/events", method="OPTIONS", headers={
        "Origin": "https://ops.example", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "last-event-id, x-api-token"})
    with urllib.request.urlopen(request, timeout=5) as resp:
        assert resp.status == 204
        assert resp.headers["Access-Control-Allow-Origin"] == "https://ops.example"
        allowed = resp.headers["Access-Control-Allow-Headers"].lower()
        assert "last-event-id" in allowed and "x-api-token" in allowed


def test_admission_request_id_echoed_and_logged(gunicorn_server):
    """A clean X-Request-ID is echoed and appears in the connection's log lines; junk is replaced."""
    server = gunicorn_server()
    with connect(server, **{"X-Request-ID": "req-42.abc"}) as client:
        assert client.headers["x-request-id"] == "req-42.abc"
        client.next_event()
    wait_until(lambda: "rid=req-42.abc" in server.log(), message="request id in access log")
    assert "stream opened client=127.0.0.1 request_id=req-42.abc" in server.log()
    with connect(server, **{"X-Request-ID": "bad id\twith spaces"}) as client:
        echoed = client.headers["x-request-id"]
    assert echoed != "bad id\twith spaces" and len(echoed) == 32
