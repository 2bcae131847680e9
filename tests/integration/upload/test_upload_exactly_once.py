"""`upload.completed.v1` reaches a consumer on RabbitMQ exactly once, even when a client retries its
completion many times at once while the worker (outbox relay and sweeper) runs beside the API."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

from codex_bus import Bus, MessageBatch, Topology, subscribe
from codex_contracts.events import UploadCompletedV1
from codex_upload.cli import CLI

VIDEO = os.urandom(8192)


async def test_concurrent_completions_publish_one_event(
    start_upload: Callable[..., Any], amqp_url: str, queue_prefix: str
) -> None:
    received: list[UploadCompletedV1] = []
    arrived = asyncio.Event()

    async def on_completed(batch: MessageBatch[UploadCompletedV1]) -> None:
        received.extend(message.body for message in batch)
        arrived.set()

    # The sweeper looks at once and often, so it races the clients for the same upload too.
    async with (
        start_upload(sweep_interval_s=0.05, put_check_interval_s=1) as service,
        Bus(amqp_url, topology=Topology(prefix=queue_prefix)) as bus,
    ):
        consumer = bus.consumer("media-dispatch", [subscribe(UploadCompletedV1, on_completed)])
        await consumer.start()
        worker = asyncio.create_task(CLI.worker(service.settings))
        try:
            creator = service.client()
            ticket = await service.start(creator, len(VIDEO))
            await service.put(ticket, VIDEO)
            await service.sql("UPDATE uploads SET sweep_at = now()")
            path = f"/uploads/{ticket['upload_id']}/complete"
            answers = await asyncio.gather(*(creator.post(path) for _ in range(12)))
            assert {a.status_code for a in answers} == {200}
            assert len({a.content for a in answers}) == 1  # every try answers the same upload

            await asyncio.wait_for(arrived.wait(), timeout=30)
            await asyncio.sleep(1.5)  # time for a second event, were there one
            assert [event.upload_id for event in received] == [ticket["upload_id"]]
            rows = await service.sql("SELECT sent_at FROM outbox")
            assert len(rows) == 1
            assert rows[0]["sent_at"] is not None
        finally:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)
            await consumer.stop()
