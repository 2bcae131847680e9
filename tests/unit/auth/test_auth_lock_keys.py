"""The login lock's key: one account as tried from one client network (IPv4 address, IPv6 /64)."""

from __future__ import annotations

from codex_platform.ratelimit import client_account_key


def test_one_network_one_account_one_key() -> None:
    key = client_account_key("root@example.com", "2001:db8:1:2::1")
    assert key == client_account_key("root@example.com", "2001:db8:1:2:ffff::9")  # same /64
    assert key != client_account_key("root@example.com", "2001:db8:1:3::1")  # the owner elsewhere
    assert key != client_account_key("ada@example.com", "2001:db8:1:2::1")  # another account
    assert client_account_key("root@example.com", "::ffff:192.0.2.7") == client_account_key(
        "root@example.com", "192.0.2.7"
    )
