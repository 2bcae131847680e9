"""The worker's own /metrics (it serves no API): the parts it runs and its dead-letter queue's gauges."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable

import httpx
from catalog_harness import Catalog

from codex_bus import ConsumerSettings, service_worker
from codex_catalog.bootstrap import bootstrap
from codex_catalog.handlers import SUBSCRIPTIONS
from codex_catalog.settings import CatalogSettings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_the_worker_serves_its_gauges(
    catalog: Catalog, catalog_settings: Callable[..., CatalogSettings], queue_prefix: str
) -> None:
    port = free_port()
    settings = catalog_settings(worker_metrics_port=port)
    worker = asyncio.create_task(
        service_worker(
            settings,
            bootstrap,
            subscriptions=SUBSCRIPTIONS,
            consumer_settings=ConsumerSettings(max_batch_timeout=0.1),
        )
    )
    dead_letters = f'queue="{queue_prefix}catalog.dlq"'
    try:
        text = ""
        async with httpx.AsyncClient() as client:
            for _ in range(200):
                with contextlib.suppress(httpx.HTTPError):
                    text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
                if f"codex_bus_dead_letter_depth{{{dead_letters}}}" in text:
                    break
                await asyncio.sleep(0.1)
        assert f'codex_bus_worker_part_up{{part="consumer:{queue_prefix}catalog"}} 1.0' in text
        assert f"codex_bus_dead_letter_depth{{{dead_letters}}} 0.0" in text
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
