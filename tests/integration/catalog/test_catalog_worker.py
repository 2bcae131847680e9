"""The catalog's worker on the real broker: an asset event from media-dispatch reaches its handler
through the catalog's queue, and the resulting published.v1 leaves through the outbox relay."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import aio_pika
from catalog_harness import Catalog, asset_ready

from codex_bus import Bus, MessageBatch, Topology, service_worker, subscribe
from codex_catalog.bootstrap import bootstrap
from codex_catalog.cli import CLI, CONSUMER
from codex_catalog.handlers import SUBSCRIPTIONS
from codex_catalog.settings import CatalogSettings
from codex_contracts.events import ContentPublishedV1


async def has_consumer(bus: Bus, queue: str) -> bool:
    channel = await bus.connection.channel()
    try:
        declared = await channel.declare_queue(queue, passive=True)
    except aio_pika.exceptions.ChannelClosed:
        return False
    await channel.close()
    return bool(declared.declaration_result.consumer_count)


async def test_asset_ready_on_the_broker_publishes_content_and_announces_it(
    catalog: Catalog, catalog_settings: Callable[..., CatalogSettings], amqp_url: str, queue_prefix: str
) -> None:
    assert CLI.worker is not None  # the command line runs this same worker
    creator = catalog.person("creator")
    content = await catalog.create(creator, upload_id="up-broker")
    assert (await catalog.publish(content["id"], creator)).json()["status"] == "processing"

    announced: list[ContentPublishedV1] = []
    arrived = asyncio.Event()

    async def purchase_side(batch: MessageBatch[ContentPublishedV1]) -> None:
        announced.extend(m.body for m in batch)
        arrived.set()

    settings = catalog_settings()
    worker = asyncio.create_task(
        service_worker(settings, bootstrap, subscriptions=SUBSCRIPTIONS, consumer_settings=CONSUMER)
    )
    async with Bus(amqp_url, topology=Topology(prefix=queue_prefix), name="test-peers") as peers:
        probe = peers.consumer("purchase-probe", [subscribe(ContentPublishedV1, purchase_side)], CONSUMER)
        async with probe:
            try:
                queue = Topology(prefix=queue_prefix).queue("catalog")
                for _ in range(200):
                    if await has_consumer(peers, queue):
                        break
                    await asyncio.sleep(0.05)
                await peers.producer(source="media-dispatch").send(asset_ready("up-broker", creator.id))
                await asyncio.wait_for(arrived.wait(), timeout=20)
            finally:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
    assert [(e.content_id, e.asset_id) for e in announced] == [(content["id"], "asset-up-broker")]
    assert (await catalog.get(content["id"])).json()["status"] == "published"
