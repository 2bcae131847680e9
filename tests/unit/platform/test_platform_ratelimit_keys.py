"""Which clients share a rate-limit bucket."""

from __future__ import annotations

import pytest

from codex_platform.ratelimit import Limit, client_bucket


@pytest.mark.parametrize(
    ("address", "bucket"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("testclient", "testclient"),
    ],
)
def test_ipv6_clients_share_their_64(address: str, bucket: str) -> None:
    assert client_bucket(address) == bucket


def test_limits_must_allow_something() -> None:
    for count, window in ((0, 10), (3, 0)):
        with pytest.raises(ValueError):
            Limit(count, window)
