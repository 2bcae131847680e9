"""The operator's view of the journey: a purchase event that catalog cannot record (its access table is
gone, as after a botched migration) is retried, then dead-lettered; the operator finds it with
`codex-dlq stats`, repairs the table, replays the group, and access is granted once, a second replay
of the same message changing nothing (the inbox)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
from catalog_harness import Catalog, purchased

from codex_bus import Bus, ConsumerSettings, Topology, service_worker
from codex_catalog.bootstrap import bootstrap
from codex_catalog.handlers import SUBSCRIPTIONS
from codex_catalog.settings import CatalogSettings
from codex_contracts import new_envelope

DLQ_CLI = str(Path(sys.executable).parent / "codex-dlq")
FAST = ConsumerSettings(max_batch_size=1, max_batch_timeout=0.1, max_retries=1, retry_delay=0)


def dlq(amqp_url: str, *args: str) -> Any:
    done = subprocess.run(
        [DLQ_CLI, "--amqp-url", amqp_url, *args, "-o", "json"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


async def eventually(check: Callable[[], Any], timeout_s: float = 20) -> Any:
    for _ in range(int(timeout_s * 10)):
        if result := await check():
            return result
        await asyncio.sleep(0.1)
    raise AssertionError("not within the time allowed")


async def test_a_dead_letter_is_found_replayed_and_takes_effect_once(
    catalog: Catalog,
    catalog_settings: Callable[..., CatalogSettings],
    amqp_url: str,
    queue_prefix: str,
    db_pool: asyncpg.Pool,
) -> None:
    customer = catalog.person("customer")
    creator = catalog.person("creator")
    content = await catalog.published_content(creator)
    await db_pool.execute("ALTER TABLE access RENAME TO access_moved")  # the fault

    worker = asyncio.create_task(
        service_worker(catalog_settings(), bootstrap, subscriptions=SUBSCRIPTIONS, consumer_settings=FAST)
    )
    topology = Topology(prefix=queue_prefix)
    dead_letters = topology.dead_letter_queue(topology.queue("catalog"))
    try:
        async with Bus(amqp_url, topology=Topology(prefix=queue_prefix), name="test-purchase") as peers:
            await asyncio.sleep(1.0)  # the worker declares its queue and binds it
            envelope = new_envelope(
                purchased(customer.id, content["id"], purchase_id="p-dlq"), source="purchase"
            )
            await peers.producer(source="purchase").send_envelope(envelope)

            async def grouped() -> Any:
                stats = dlq(amqp_url, "stats", dead_letters)
                return stats["items"] or None

            (group,) = await eventually(grouped)
            assert group["count"] == 1
            assert "access" in group["error_message"]
            await db_pool.execute("ALTER TABLE access_moved RENAME TO access")  # the repair

            replayed = dlq(amqp_url, "replay", dead_letters, "--fingerprint", group["fingerprint"][:8])
            assert replayed["moved"] == 1

            async def granted() -> bool:
                answer = await catalog.http.get(
                    f"/content/{content['id']}/playback", headers=customer.headers
                )
                return answer.status_code == 200

            assert await eventually(granted)
            assert dlq(amqp_url, "stats", dead_letters)["items"] == []

            # The same message once more (an operator replaying an export twice): no second effect.
            rows = await db_pool.fetch("SELECT * FROM access")
            await peers.producer(source="purchase").send_envelope(envelope)
            await asyncio.sleep(1.5)
            assert await db_pool.fetch("SELECT * FROM access") == rows
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
