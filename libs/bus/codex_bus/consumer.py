"""The consumer: fills batches from a queue and hands them to the handlers of its subscription table.

A batch is dispatched when it holds `max_batch_size` messages or `max_batch_timeout` seconds after
its first message arrived, whichever comes first; up to `max_concurrency` batches run at once.
Messages of several types in one batch go to their own handlers, one sub-batch per type.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import aio_pika
import structlog
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue, AbstractRobustChannel

from codex_bus.acks import DeliveryTracker
from codex_bus.failure import Failure
from codex_bus.headers import attempts_of
from codex_bus.message import Message, MessageBatch
from codex_bus.metrics import CONSUMED, HANDLER_SECONDS
from codex_bus.publishing import Publishing
from codex_bus.settings import ConsumerSettings
from codex_bus.settlement import Settlement
from codex_bus.subscriptions import Subscription, subscription_table
from codex_bus.topology import DELIVERY_LIMIT, Topology
from codex_contracts import decode_envelope

__all__ = ["Consumer"]

log = structlog.stdlib.get_logger("codex_bus")


class Consumer:
    """Consumes one queue; made by `Bus.consumer`. Use `async with consumer:` or start()/stop()."""

    def __init__(
        self,
        publishing: Publishing,
        queue: str,
        subscriptions: Sequence[Subscription[Any]],
        settings: ConsumerSettings,
        *,
        bind: bool = True,
    ) -> None:
        self._publishing = publishing
        self.settings = settings
        self.queue = publishing.topology.queue(queue)
        self.dead_letter_queue = publishing.topology.dead_letter_queue(self.queue, settings.dead_letter_queue)
        self._table = subscription_table(subscriptions)
        self._bind = bind
        self._buffer: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        self._tracker = DeliveryTracker()
        self._slots = asyncio.Semaphore(settings.max_concurrency)
        self._running: set[asyncio.Task[None]] = set()
        self._channel: AbstractRobustChannel | None = None
        self._amqp_queue: AbstractQueue | None = None
        self._consumer_tag: str | None = None
        self._batcher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Declare the queue, its dead-letter queue and bindings, then start consuming."""
        # The dead-letter queue is classic (on one node): declared once, never on reconnection.
        await self._publishing.declare_classic_queue(
            self.dead_letter_queue,
            lambda channel: channel.declare_queue(self.dead_letter_queue, durable=True),
        )
        self._publishing.declared.queues.add(self.dead_letter_queue)
        self._channel = await self._publishing.connection.channel(publisher_confirms=False)
        await self._channel.set_qos(prefetch_count=self.settings.prefetch)
        self._amqp_queue = await self._publishing.topology.declare_queue(
            self._channel,
            self.queue,
            dead_letter_queue=self.dead_letter_queue,
            event_types=tuple(self._table) if self._bind else (),
            names=self._publishing.declared,
            delivery_limit=await self._delivery_limit(),
            with_dead_letter_queue=False,
        )
        self._batcher = asyncio.create_task(self._fill_batches(), name=f"codex-bus-batcher:{self.queue}")
        self._consumer_tag = await self._amqp_queue.consume(self._received)

    async def _delivery_limit(self) -> int | None:
        """`DELIVERY_LIMIT`, or None for a queue declared before the limit existed.

        The broker refuses a declaration whose arguments differ from the queue's (and closes the
        channel): probe on a plain channel of its own, and keep such a queue as it is, saying so.
        """
        try:
            async with self._publishing.plain_channel() as channel:
                await channel.declare_queue(
                    self.queue, durable=True, arguments=Topology.queue_arguments(self.dead_letter_queue)
                )
        except aio_pika.exceptions.ChannelPreconditionFailed:
            log.warning(
                "bus.queue_without_delivery_limit",
                queue=self.queue,
                hint="set a policy with delivery-limit, or delete the queue when it is empty to redeclare it",
            )
            return None
        return DELIVERY_LIMIT

    async def wait_ended(self) -> None:
        """Raise when the consumer's batching loop ends (only a bug ends it)."""
        if self._batcher is None:
            raise RuntimeError("Consumer is not started")
        batcher = self._batcher
        await asyncio.wait([batcher])
        error = None if batcher.cancelled() else batcher.exception()
        if error is not None:
            raise error
        raise RuntimeError(f"the consumer of {self.queue} stopped")

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop taking messages, let running batches finish (up to `timeout`), hand back the rest."""
        if self._amqp_queue is not None and self._consumer_tag is not None:
            try:
                await self._amqp_queue.cancel(self._consumer_tag)
            except Exception as exc:  # a dead connection has no consumer left to cancel
                log.debug("bus.cancel_failed", queue=self.queue, error=str(exc))
            self._consumer_tag = None
        if self._batcher is not None:
            self._batcher.cancel()
            await asyncio.gather(self._batcher, return_exceptions=True)
            self._batcher = None
        if self._running:
            _, pending = await asyncio.wait(self._running, timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._channel is not None and not self._channel.is_closed:
            await self._channel.close()  # unsettled deliveries go back to the queue
        self._channel = None

    async def __aenter__(self) -> Consumer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def _received(self, incoming: AbstractIncomingMessage) -> None:
        self._tracker.received(incoming)
        self._buffer.put_nowait(incoming)

    async def _fill_batches(self) -> None:
        size, wait = self.settings.max_batch_size, self.settings.max_batch_timeout
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._buffer.get()]
            deadline = loop.time() + wait
            while len(batch) < size:
                if not self._buffer.empty():
                    batch.append(self._buffer.get_nowait())
                    continue
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    async with asyncio.timeout(remaining):
                        batch.append(await self._buffer.get())
                except TimeoutError:
                    break
            await self._slots.acquire()
            task = asyncio.create_task(self._run(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run(self, deliveries: list[AbstractIncomingMessage]) -> None:
        try:
            await self.handle(deliveries)
        except Exception:
            # A bug of ours, not of the handler (whose exceptions are caught): hand the batch back
            # rather than hold its deliveries, and so the prefetch window, until the channel closes.
            log.exception("bus.batch_crashed", queue=self.queue)
            unsettled = self._tracker.pending(deliveries)
            self._tracker.forget(unsettled)
            for incoming in unsettled:
                with contextlib.suppress(Exception):
                    await incoming.nack(requeue=True)
        finally:
            self._slots.release()

    async def handle(self, deliveries: Sequence[AbstractIncomingMessage]) -> None:
        """Decode, dispatch to the handlers and settle one batch of deliveries."""
        settings = self.settings
        settlement = Settlement(self._publishing, self.queue, self.dead_letter_queue, settings.max_retries)
        groups: dict[str, list[Message[Any]]] = {}
        for incoming in deliveries:
            if incoming.channel.is_closed:
                self._tracker.forget([incoming])
                continue  # its channel died with the connection: the broker redelivers it
            attempts = attempts_of(incoming.headers)
            label = incoming.type or incoming.routing_key or "unknown"
            try:
                envelope = decode_envelope(incoming.body)
            except Exception as exc:
                # Whatever the decoder raises (msgspec errors, an unknown type, UnicodeDecodeError
                # from invalid UTF-8 inside a string, a RecursionError) marks this message alone:
                # it is dead-lettered now, never handed back with its batch-mates.
                failure = Failure.from_exception(exc)
                settlement.dead_letter(incoming, label, attempts, failure, reason="undecodable")
                continue
            if envelope.type not in self._table:
                failure = Failure.of(
                    "codex_bus.NoHandler",
                    f"{self.queue} has no handler for {envelope.type}",
                    "codex_bus.consumer",
                )
                settlement.dead_letter(incoming, envelope.type, attempts, failure, reason="no_handler")
            elif attempts > settings.max_retries + 1:
                failure = Failure.of(
                    "codex_bus.RedeliveryLimitExceeded",
                    f"delivered {attempts} times without being settled (does the consumer crash on it?)",
                    "codex_bus.consumer",
                )
                settlement.dead_letter(incoming, envelope.type, attempts, failure, reason="redelivered")
            else:
                groups.setdefault(envelope.type, []).append(
                    Message(envelope, envelope.data, attempts=attempts, raw=incoming)
                )
        for event_type, messages in groups.items():
            await self._dispatch(event_type, MessageBatch(self.queue, messages), settlement)
        await settlement.apply(self._tracker)

    async def _dispatch(self, event_type: str, batch: MessageBatch[Any], settlement: Settlement) -> None:
        subscription = self._table[event_type]
        raised: Exception | None = None
        started = time.perf_counter()
        try:
            await subscription.handler(batch)
        except Exception as exc:
            raised = exc
        HANDLER_SECONDS.labels(self.queue, event_type).observe(time.perf_counter() - started)
        CONSUMED.labels(self.queue, event_type).inc(len(batch))
        for message, verdict in batch.resolve(raised):
            if not verdict.retry:
                settlement.ack(message.raw)
                continue
            if verdict.error is not None:
                failure = Failure.from_exception(verdict.error)
            else:
                where = getattr(subscription.handler, "__qualname__", repr(subscription.handler))
                failure = Failure.of("codex_bus.RetryRequested", "the handler asked for a retry", where)
            delay = verdict.delay_seconds if verdict.delay_seconds is not None else self.settings.retry_delay
            settlement.retry(message.raw, event_type, message.attempts, failure, delay)
