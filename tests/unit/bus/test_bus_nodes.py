"""AMQP_URL naming several nodes of a cluster."""

from __future__ import annotations

import pytest

from codex_bus.nodes import node_urls


def test_one_node() -> None:
    assert node_urls("amqp://guest:guest@127.0.0.1:5672/") == ["amqp://guest:guest@127.0.0.1:5672/"]


def test_several_hosts_in_one_url_share_credentials_vhost_and_options() -> None:
    assert node_urls("amqps://u:p%40ss@rabbit-1:5671,rabbit-2:5671, rabbit-3/prod?heartbeat=30") == [
        "amqps://u:p%40ss@rabbit-1:5671/prod?heartbeat=30",
        "amqps://u:p%40ss@rabbit-2:5671/prod?heartbeat=30",
        "amqps://u:p%40ss@rabbit-3/prod?heartbeat=30",
    ]


def test_several_urls_separated_by_commas() -> None:
    assert node_urls("amqp://a@h1:1/v,amqp://b@h2:2/v") == ["amqp://a@h1:1/v", "amqp://b@h2:2/v"]


def test_a_url_without_a_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="AMQP_URL"):
        node_urls("rabbit-1:5672,rabbit-2:5672")
