"""`auth.user.registered.v1` reaches a consumer on RabbitMQ even when the broker was unreachable at
sign-up time: the event waits in the outbox, and the worker publishes it once the broker answers.

The shared RabbitMQ is never stopped (other tests use it): the worker reaches it through a TCP relay
of this test's own, which refuses connections until the test "brings the broker back"."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from auth_harness import PASSWORD

from codex_auth.cli import CLI
from codex_bus import Bus, MessageBatch, Topology, subscribe
from codex_contracts.events import UserRegisteredV1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def tcp_relay(port: int, target_host: str, target_port: int) -> AsyncIterator[None]:
    """Listen on `port` and pipe every connection to the target, for as long as the block lasts."""

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    writers: list[asyncio.StreamWriter] = []

    async def connect(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        broker_reader, broker_writer = await asyncio.open_connection(target_host, target_port)
        writers.extend((client_writer, broker_writer))
        await asyncio.gather(pipe(client_reader, broker_writer), pipe(broker_reader, client_writer))

    server = await asyncio.start_server(connect, "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()
        for writer in writers:  # Server.close_clients() is Python 3.13+
            writer.close()


async def test_events_of_sign_ups_made_while_the_broker_was_down_arrive_later(
    start_auth: Callable[..., Any], amqp_url: str, queue_prefix: str
) -> None:
    received: list[UserRegisteredV1] = []
    arrived = asyncio.Event()

    async def on_registered(batch: MessageBatch[UserRegisteredV1]) -> None:
        received.extend(message.body for message in batch)
        if len(received) >= 2:
            arrived.set()

    broker = urlsplit(amqp_url)
    port = free_port()
    unreachable = urlunsplit(broker._replace(netloc=f"{broker.username}:{broker.password}@127.0.0.1:{port}"))

    async with (
        start_auth(amqp_url=unreachable) as auth,
        Bus(amqp_url, topology=Topology(prefix=queue_prefix)) as bus,
    ):
        # A consumer elsewhere (say, catalog) is subscribed before anything happens.
        consumer = bus.consumer("catalog", [subscribe(UserRegisteredV1, on_registered)])
        await consumer.start()
        worker = asyncio.create_task(CLI.worker(auth.settings))
        try:
            client = auth.client()
            for address in ("ada@example.com", "bob@example.com"):
                # An account is announced once its owner has confirmed the address.
                await auth.sign_up_confirmed(client, address)
            await asyncio.sleep(1.5)  # the worker keeps knocking at the closed port meanwhile
            assert received == []
            assert [row["sent_at"] for row in await auth.sql("SELECT sent_at FROM outbox")] == [None, None]

            async with tcp_relay(port, broker.hostname or "127.0.0.1", broker.port or 5672):
                await asyncio.wait_for(arrived.wait(), timeout=30)
                rows = await auth.sql("SELECT sent_at FROM outbox")
            users = {row["email"]: str(row["id"]) for row in await auth.sql("SELECT email, id FROM users")}
        finally:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)
            await consumer.stop()

    assert sorted(event.email for event in received) == ["ada@example.com", "bob@example.com"]
    assert {event.email: event.user_id for event in received} == users
    assert {event.role for event in received} == {"customer"}
    assert all(event.registered_at.tzinfo is not None for event in received)
    assert all(PASSWORD not in repr(event) for event in received)
    assert all(row["sent_at"] is not None for row in rows)
