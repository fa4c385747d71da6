"""Pure admission decisions: tokens, client address behind proxies, allow-lists."""

from __future__ import annotations

from g6app import security
from g6app.config import Settings


def nets(text: str):
    return Settings.from_env({"G6_SSE_IP_ALLOW": text}).sse_ip_allow


def test_security_token_carriers_in_order():
    """X-API-Token wins over Authorization, which wins over the query parameter."""
    assert security.presented_token({"X-API-Token": "a", "Authorization": "Bearer b"},
                                    {"access_token": "c"}) == "a"
    assert security.presented_token({"Authorization": "Bearer b"}, {"access_token": "c"}) == "b"
    assert security.presented_token({"Authorization": "Basic zzz"}, {"access_token": "c"}) == "c"
    assert security.presented_token({}, {}) is None


def test_security_token_matches_exactly():
    """Only the exact token matches; None, prefixes and extensions do not."""
    assert security.token_matches("tok", "tok")
    assert not security.token_matches("tok", None)
    assert not security.token_matches("tok", "to")
    assert not security.token_matches("tok", "tokk")


def test_security_client_address_only_trusts_listed_proxies():
    """X-Forwarded-For is read only from a trusted peer, right to left, skipping trusted hops."""
    trusted = nets("127.0.0.2/32, 10.0.0.0/8")
    assert security.client_address("127.0.0.1", "203.0.113.9", trusted) == "127.0.0.1"
    assert security.client_address("127.0.0.2", "203.0.113.9", trusted) == "203.0.113.9"
    assert security.client_address("127.0.0.2", "1.1.1.1, 203.0.113.9, 10.1.1.1",
                                   trusted) == "203.0.113.9"
    assert security.client_address("127.0.0.2", "not-an-ip", trusted) == "127.0.0.2"
    assert security.client_address("127.0.0.2", "10.2.2.2", trusted) == "10.2.2.2"


def test_security_ip_allow_list_cidr_and_ipv6():
    """Membership by network, for IPv4 and IPv6; garbage is never allowed."""
    allow = nets("192.0.2.0/24, 2001:db8::/32")
    assert security.in_networks("192.0.2.77", allow)
    assert not security.in_networks("192.0.3.1", allow)
    assert security.in_networks("2001:db8::1", allow)
    assert not security.in_networks("2001:db9::1", allow)
    assert not security.in_networks("garbage", allow)


def test_security_check_order_token_then_ip_then_ua():
    """The first failing rule decides the answer."""
    settings = Settings.from_env({"G6_SSE_API_TOKEN": "t", "G6_SSE_IP_ALLOW": "10.0.0.0/8",
                                  "G6_SSE_UA_ALLOW": "g6-"})
    assert security.check(settings, None, "192.0.2.1", "curl") is security.UNAUTHORIZED
    assert security.check(settings, "t", "192.0.2.1", "curl") is security.FORBIDDEN_IP
    assert security.check(settings, "t", "10.0.0.1", "curl") is security.FORBIDDEN_UA
    assert security.check(settings, "t", "10.0.0.1", "g6-watch") is None
    assert security.check(Settings(), None, "192.0.2.1", None) is None
