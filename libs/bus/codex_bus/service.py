"""The service kit's bus side: a service's worker and its command line, each one call.

```python
# cli.py of a service
CLI = service_cli(CatalogSettings, "codex_catalog", bootstrap, subscriptions=SUBSCRIPTIONS, tasks=background)
```
`service_worker` enters the service's `bootstrap` (the same deps its HTTP side uses), relays its
outbox, consumes its queue (named after the service) with the subscription table, and runs its own
background loops (`tasks(deps)`: sweepers, reconcilers) under the same supervision.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from datetime import timedelta
from typing import Any, TypeVar

import prometheus_client

from codex_bus.bus import Bus
from codex_bus.dlq_gauges import watch_dead_letters
from codex_bus.handling import On, bind
from codex_bus.relay import OutboxRelay
from codex_bus.schema import BUS_MIGRATIONS
from codex_bus.settings import ConsumerSettings
from codex_bus.topology import Topology
from codex_bus.worker import run_worker
from codex_platform.db import MigrationSource
from codex_platform.service import Bootstrap, ServiceSettings
from codex_platform.service_cli import Command, ServiceCli

__all__ = ["BUS_MIGRATIONS", "Tasks", "service_cli", "service_worker"]

S = TypeVar("S", bound=ServiceSettings)


Tasks = Callable[[Any], Mapping[str, Callable[[], Coroutine[Any, Any, None]]]]
"""`tasks(deps)`: the service's background loops by name."""


async def service_worker(
    settings: ServiceSettings,
    bootstrap: Bootstrap,
    *,
    subscriptions: Sequence[On[Any]] = (),
    tasks: Tasks | None = None,
    consumer_settings: ConsumerSettings | None = None,
) -> None:
    """Run the service's background process until cancelled (see the module's docstring)."""
    async with bootstrap(settings) as deps:
        bus = Bus(
            settings.amqp_url,
            topology=Topology(prefix=settings.bus_prefix),
            name=f"codex-{settings.service}-worker",
        )
        consumers = []
        if subscriptions:
            consumers.append(bus.consumer(settings.service, bind(subscriptions, deps), consumer_settings))
        own = dict(tasks(deps)) if tasks else {}
        if consumers:
            dead_letters = [consumer.dead_letter_queue for consumer in consumers]
            own["dead-letter-gauges"] = lambda: watch_dead_letters(bus, dead_letters)
        if settings.worker_metrics_port is not None:
            # The worker serves no HTTP API: its gauges (relay, parts, dead letters) get a port of their own.
            prometheus_client.start_http_server(settings.worker_metrics_port, addr=settings.host)
        await run_worker(
            bus,
            relays=[OutboxRelay(deps.pool, bus)],
            consumers=consumers,
            tasks=own or None,
            inbox_retention=timedelta(days=settings.inbox_retention_days),
        )


def service_cli(
    settings_type: type[S],
    package: str,
    bootstrap: Bootstrap,
    *,
    subscriptions: Sequence[On[Any]] = (),
    tasks: Tasks | None = None,
    consumer_settings: ConsumerSettings | None = None,
    commands: Mapping[str, Command[S]] | None = None,
) -> ServiceCli[S]:
    """`serve` (uvicorn on `<package>.app:create_app`), `worker` (`service_worker`), `migrate` (the
    bus's tables, then `<package>.migrations`), plus the service's own `commands`."""

    def worker(settings: S) -> Awaitable[None]:
        return service_worker(
            settings,
            bootstrap,
            subscriptions=subscriptions,
            tasks=tasks,
            consumer_settings=consumer_settings,
        )

    service = settings_type.service
    return ServiceCli(
        service=service,
        load_settings=settings_type.load,
        app_factory=f"{package}.app:create_app",
        schema=lambda settings: settings.db_schema,
        migrations=[BUS_MIGRATIONS, MigrationSource(service, f"{package}.migrations")],
        worker=worker,
        commands=dict(commands or {}),
    )
