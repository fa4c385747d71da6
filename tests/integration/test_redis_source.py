"""The Redis source and Redis limits against a real redis-server: follow, outage, catch-up, leases."""

from __future__ import annotations

from pathlib import Path

import pytest

from g6app.redis_limits import SLOTS_KEY, RedisLimits
from g6app.redis_source import KEY, RedisSource, connect, encode_document, write_document
from tests.support import status
from tests.support.redis import RedisServer
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration

TOKEN = "ingest-token"


@pytest.fixture
def redis_server(tmp_path: Path):
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.kill()


def with_cycle(cycle: int) -> dict:
    document = status.load(status.SIM_OPEN)
    document["loop"]["cycle"] = cycle
    return document


def push(url: str, document: dict) -> None:
    client = connect(url)
    try:
        write_document(client, encode_document(document))
    finally:
        client.close()


@pytest.fixture
def redis_app(make_app, redis_server: RedisServer):
    """An app on the Redis source with its service started (real threads); stopped after."""
    app = make_app(G6_REDIS_URL=redis_server.url, G6_INGEST_TOKEN=TOKEN,
                   G6_STATUS_STALE_SECONDS="60")
    service = app.extensions["g6app"]
    service.start()
    yield app
    service.stop()


def cycle_of(client) -> int | None:
    return client.get("/summary/resync").get_json()["cycle"]


def test_redis_source_delivers_announced_documents(redis_server: RedisServer):
    """A document SET and announced reaches poll() once, with its write time from the stream."""
    source = RedisSource(redis_server.url, 1 << 20, block_seconds=0.5)
    source.start()
    try:
        push(redis_server.url, with_cycle(11))
        reading = wait_until(source.poll, 10, message="first reading")
        assert reading.document["loop"]["cycle"] == 11
        assert source.has_read and source.last_error is None
        assert 0 <= source.age_seconds() < 10
        assert source.poll() is None
        assert source.describe()["connected"] is True
    finally:
        source.stop()


def test_redis_source_invalid_document_is_one_incident(redis_server: RedisServer):
    """Garbage in the key is reported once; the next good document clears the error."""
    source = RedisSource(redis_server.url, 1 << 20, block_seconds=0.5)
    source.start()
    client = connect(redis_server.url)
    try:
        push(redis_server.url, with_cycle(1))
        wait_until(source.poll, 10, message="first reading")
        write_document(client, b"[1, 2]")
        write_document(client, b"{broken")
        reading = wait_until(lambda: (r := source.poll()) and r.error and r, 10,
                             message="error reading")
        assert "not valid JSON" in reading.error or "not an object" in reading.error
        write_document(client, b"still broken")
        assert wait_until(lambda: source.last_error == "status document is not valid JSON "
                          "(JSONDecodeError)" and source.poll() is None, 10)
        push(redis_server.url, with_cycle(2))
        reading = wait_until(source.poll, 10, message="recovery")
        assert reading.document["loop"]["cycle"] == 2 and source.last_error is None
    finally:
        client.close()
        source.stop()


def test_redis_source_catches_up_on_reconnect(redis_app, redis_server: RedisServer):
    """A value SET without announcement is picked up by the GET that follows every reconnect."""
    client = redis_app.test_client()
    push(redis_server.url, with_cycle(21))
    wait_until(lambda: cycle_of(client) == 21, 10, message="cycle 21 served")
    admin = connect(redis_server.url)
    try:
        admin.set(KEY, encode_document(with_cycle(22)))  # no announcement
        admin.client_kill_filter(_type="normal", skipme=True)
    finally:
        admin.close()
    wait_until(lambda: cycle_of(client) == 22, 15, message="cycle 22 after reconnect")


def test_redis_source_outage_keeps_state_and_recovers(redis_app, redis_server: RedisServer):
    """Redis down: last state served, /readyz 503 with a reason, error counted; back: caught up."""
    client = redis_app.test_client()
    metrics = redis_app.extensions["g6app"].metrics
    push(redis_server.url, with_cycle(31))
    wait_until(lambda: client.get("/readyz").status_code == 200, 10, message="ready")
    errors_before = metrics.registry.get_sample_value("g6_summary_source_errors_total")

    redis_server.kill()
    answer = wait_until(lambda: (r := client.get("/readyz")).status_code == 503 and r, 15,
                        message="not ready while redis is down")
    assert "redis unreachable" in answer.get_json()["reason"]
    assert cycle_of(client) == 31
    sample = metrics.registry.get_sample_value
    wait_until(lambda: sample("g6_summary_source_up") == 0, 5, message="source_up 0")
    wait_until(lambda: sample("g6_summary_source_errors_total") == errors_before + 1, 5,
               message="one incident counted")
    health = client.get("/summary/health").get_json()["source"]
    assert health["connected"] is False and "redis unreachable" in health["last_error"]

    redis_server.start()
    push(redis_server.url, with_cycle(32))
    wait_until(lambda: cycle_of(client) == 32, 20, message="cycle 32 after redis returned")
    wait_until(lambda: client.get("/readyz").status_code == 200, 10, message="ready again")


def test_redis_ingest_reaches_the_source(redis_app, redis_server: RedisServer):
    """PUT /summary/status stores in Redis (key and announcement) and comes back as the state."""
    client = redis_app.test_client()
    response = client.put("/summary/status", json=with_cycle(41),
                          headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200 and response.get_json()["source"] == "redis"
    wait_until(lambda: cycle_of(client) == 41, 10, message="ingested cycle served")
    admin = connect(redis_server.url)
    try:
        assert b'"cycle":41' in admin.get(KEY)
    finally:
        admin.close()


def test_redis_ingest_redis_down_is_503(redis_app, redis_server: RedisServer):
    """With Redis unreachable an ingest answers 503, not a stack trace."""
    redis_server.kill()
    response = redis_app.test_client().put("/summary/status", json=with_cycle(5),
                                           headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 503
    assert response.get_json() == {"error": "status source unavailable"}


def test_redis_limits_cap_is_shared_and_released(redis_server: RedisServer):
    """Two workers' limits share one cap; a release frees a slot for the other."""
    first = RedisLimits(redis_server.url, 2, None)
    second = RedisLimits(redis_server.url, 2, None)
    a, b = first.acquire_slot(), second.acquire_slot()
    assert a is not None and b is not None
    assert first.acquire_slot() is None and second.acquire_slot() is None
    a()
    a()  # idempotent: releasing twice frees one slot only
    c = second.acquire_slot()
    assert c is not None
    assert first.acquire_slot() is None


def test_redis_limits_expired_leases_free_slots(redis_server: RedisServer):
    """Slots whose holder stopped renewing (a killed instance) are free after the lease."""
    admin = connect(redis_server.url)
    try:
        seconds, micros = admin.time()
        # What a killed worker leaves behind: a slot whose lease nobody renews any more.
        admin.zadd(SLOTS_KEY, {"dead-host:1234:0": seconds + micros / 1e6 + 1.0})
    finally:
        admin.close()
    alive = RedisLimits(redis_server.url, 1, None, lease_seconds=1.0)
    assert alive.acquire_slot() is None
    assert wait_until(alive.acquire_slot, 10, message="slot after lease expiry") is not None


def test_redis_limits_renewal_keeps_held_slots(redis_server: RedisServer):
    """A renewing holder keeps its slot well past the lease time."""
    holder = RedisLimits(redis_server.url, 1, None, lease_seconds=1.0)
    release = holder.acquire_slot()
    assert release is not None
    admin = connect(redis_server.url)
    try:
        first_expiry = admin.zrange(SLOTS_KEY, 0, -1, withscores=True)[0][1]
        wait_until(lambda: admin.zrange(SLOTS_KEY, 0, -1, withscores=True)[0][1] > first_expiry + 1,
                   10, message="lease renewed past its first expiry")
    finally:
        admin.close()
    assert RedisLimits(redis_server.url, 1, None).acquire_slot() is None
    release()
    assert RedisLimits(redis_server.url, 1, None).acquire_slot() is not None


def test_redis_limits_connect_rate_is_shared(redis_server: RedisServer):
    """The per-address rate counts connects made through any worker, per address."""
    first = RedisLimits(redis_server.url, 0, (2, 60.0))
    second = RedisLimits(redis_server.url, 0, (2, 60.0))
    assert first.connect_allowed("203.0.113.7") is None
    assert second.connect_allowed("203.0.113.7") is None
    retry = first.connect_allowed("203.0.113.7")
    assert retry is not None and 0 < retry <= 30
    assert second.connect_allowed("203.0.113.8") is None


def test_redis_limits_fall_back_when_redis_is_down(redis_server: RedisServer):
    """With Redis unreachable each worker applies the cap itself instead of refusing all."""
    limits = RedisLimits(redis_server.url, 1, (1, 60.0))
    redis_server.kill()
    assert limits.acquire_slot() is not None
    assert limits.acquire_slot() is None
    assert limits.connect_allowed("198.51.100.1") is None
    assert limits.connect_allowed("198.51.100.1") is not None


def test_redis_limits_start_nothing_until_used(redis_server: RedisServer):
    """Building the limits (as the app factory does) opens no connection to Redis."""
    admin = connect(redis_server.url)
    try:
        before = len(admin.client_list())
        RedisLimits(redis_server.url, 5, (5, 1.0))
        RedisSource(redis_server.url, 1024)
        assert len(admin.client_list()) == before
    finally:
        admin.close()

