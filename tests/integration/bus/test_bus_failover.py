"""AMQP_URL with several nodes: the bus connects to one that answers and fails over after a loss.

Two TCP proxies in front of the one broker stand for two nodes of a cluster: cutting one is, for
the connections through it, that node going away (the 3-node cluster run is `make chaos`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from bus_support import Recorder, archived, eventually
from tcp_proxy import TcpProxy

from codex_bus import Bus, ConsumerSettings, Topology, subscribe
from codex_bus.nodes import FailoverConnection
from codex_contracts.events import ContentArchivedV1

FAST = ConsumerSettings(max_batch_timeout=0.05)


@pytest.fixture
async def nodes(amqp_url: str) -> AsyncIterator[tuple[TcpProxy, TcpProxy]]:
    first, second = TcpProxy(amqp_url), TcpProxy(amqp_url)
    await first.start()
    await second.start()
    yield first, second
    await first.cut()
    await second.cut()


def cluster_url(first: TcpProxy, second: TcpProxy) -> str:
    return first.url.replace(first.address, f"{first.address},{second.address}")


def node_of(bus: Bus) -> str:
    connection = bus.connection
    assert isinstance(connection, FailoverConnection)
    return connection.node


async def test_the_bus_fails_over_to_the_next_node_and_keeps_consuming(
    nodes: tuple[TcpProxy, TcpProxy], queue_prefix: str, bus: Bus
) -> None:
    first, second = nodes
    recorder = Recorder()
    async with Bus(
        cluster_url(first, second), topology=Topology(prefix=queue_prefix), name="failover"
    ) as far:
        assert node_of(far) == first.address
        async with far.consumer("catalog", [subscribe(ContentArchivedV1, recorder)], FAST):
            producer = far.producer(source="t")
            await producer.send(archived("before"))
            await recorder.wait_for(1)
            await first.cut()  # the node goes away, for good
            await eventually(lambda: _on(far, second.address), timeout=15)
            await producer.send(archived("after"))  # waits for the reconnection if needed
            await eventually(lambda: _got(recorder, "after"), timeout=15)
    # "before" may come twice: its ack can be lost with the node (at least once; the inbox dedups).
    assert {d.content_id for d in recorder.deliveries} == {"after", "before"}


async def test_a_node_down_at_start_is_skipped(nodes: tuple[TcpProxy, TcpProxy], queue_prefix: str) -> None:
    first, second = nodes
    await first.cut()
    async with Bus(
        cluster_url(first, second), topology=Topology(prefix=queue_prefix), name="failover"
    ) as far:
        assert node_of(far) == second.address


async def _got(recorder: Recorder, content_id: str) -> bool:
    return any(d.content_id == content_id for d in recorder.deliveries)


async def _on(bus: Bus, address: str) -> bool:
    return bus.publishing.is_connected and node_of(bus) == address
