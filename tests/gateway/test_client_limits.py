"""gateway.ops.client_limits: the slow-client settings, and whose connection counts against the cap."""

from __future__ import annotations

import pytest

from gateway.ops.client_limits import ClientLimits, ConnectionCounts, client_key
from gateway.plugin.settings import ConfigError


def test_the_defaults_bound_headers_body_and_each_read_and_cap_one_address() -> None:
    assert ClientLimits.from_environ({}) == ClientLimits(
        header_timeout=10.0, body_timeout=20.0, idle_timeout=5.0, connections=64
    )


def test_behind_proxies_the_cap_is_off_unless_set() -> None:
    assert ClientLimits.from_environ({"GATEWAY_TRUSTED_PROXIES": "1"}).connections == 0
    both = {"GATEWAY_TRUSTED_PROXIES": "1", "GATEWAY_CLIENT_CONNECTIONS": "500"}
    assert ClientLimits.from_environ(both).connections == 500


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("GATEWAY_CLIENT_BODY_TIMEOUT", "soon", "GATEWAY_CLIENT_BODY_TIMEOUT: must be a number of seconds"),
        ("GATEWAY_CLIENT_HEADER_TIMEOUT", "0", "GATEWAY_CLIENT_HEADER_TIMEOUT: must be between 0.01 and 600 seconds"),
        ("GATEWAY_CLIENT_IDLE_TIMEOUT", "nan", "GATEWAY_CLIENT_IDLE_TIMEOUT: must be between 0.01 and 600 seconds"),
        ("GATEWAY_CLIENT_CONNECTIONS", "-1", "GATEWAY_CLIENT_CONNECTIONS: must be between 0 and 100000"),
        ("GATEWAY_CLIENT_CONNECTIONS", "1.5", "GATEWAY_CLIENT_CONNECTIONS: must be a whole number"),
    ],
)
def test_a_wrong_value_names_the_setting(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        ClientLimits.from_environ({name: value})
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("peer", "key"),
    [
        (("203.0.113.7", 50000), "203.0.113.7"),
        (("::ffff:203.0.113.7", 50000, 0, 0), "203.0.113.7"),
        (("2001:db8:1:2:aaaa::1", 50000, 0, 0), "2001:db8:1:2::/64"),
        (("2001:db8:1:2:bbbb::9", 50001, 0, 0), "2001:db8:1:2::/64"),
        ("", None),  # a Unix socket: not capped
    ],
)
def test_the_cap_counts_ipv4_addresses_and_ipv6_slash_64s(peer: object, key: str | None) -> None:
    assert client_key(peer) == key


def test_an_address_at_its_cap_is_refused_until_one_of_its_connections_closes() -> None:
    counts = ConnectionCounts(2)
    assert [counts.admit("203.0.113.7") for _ in range(3)] == [True, True, False]
    assert counts.admit("198.51.100.1")  # another address is not affected
    counts.release("203.0.113.7")
    assert counts.admit("203.0.113.7")
    assert ConnectionCounts(0).admit("203.0.113.7")  # 0: no cap
