"""One pass over a dead-letter queue in bounded memory: every message is seen once, and leaves
the queue only after its copy is confirmed elsewhere.

AMQP cannot browse a queue. Holding every message unacked until the end (the first design) keeps
the whole queue in the client's memory and in the broker's unacked set, and a long run trips the
broker's delivery-acknowledgement timeout. So a pass *rotates* the queue instead: it consumes with
a prefetch of `window`, and for each message publishes a copy to the tail of the same queue (or,
for a replay, to its source queue), waits for the broker's confirm, and only then acks the
original. At most `window` messages are unacked or in the client at any moment; once the pass has
taken as many messages as the queue held when it began, the queue is back in its order (messages
dead-lettered meanwhile queue up behind the copies they were published between).

The consumer is exclusive, so that two passes (two operators) cannot interleave their rotations:
the second one is refused with `DeadLetterQueueBusy`. Copies carry a pass mark; meeting its own
mark means something else removed messages meanwhile and the pass has come full circle.

A pass cut off by a lost connection leaves every message in place (unacked ones go back), at
worst with up to `window` of them there twice (copy confirmed, ack lost); a replayed duplicate
is absorbed by the consumer's inbox.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import aio_pika
import aiormq
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue

from codex_bus import headers as h
from codex_bus.dead_letter import PASS_MARK, DeadLetter
from codex_bus.errors import BusError

__all__ = ["PASS_MARK", "DeadLetterQueueBusy", "KeepInQueue", "Progress", "ScanPass", "Visit"]


Progress = Callable[[str, int, int], None]
"""Called as (phase, done, total) while a long operation runs."""

Visit = Callable[[DeadLetter], Awaitable[bool]]
"""Called once per dead letter in queue order; True sends it back to its source queue."""

# With every delivery settled and none arriving for this long, the queue holds fewer messages than
# it did when the pass began (another tool took some): the pass is over.
_IDLE_S = 2.0


class KeepInQueue(Exception):
    """Raised by `send_back` for a message it cannot send: the pass puts it back in the queue."""


class DeadLetterQueueBusy(BusError):
    """Another operation (another `codex-dlq`, or a consumer) holds the dead-letter queue."""


class ScanPass:
    """One rotation of `queue` through `visit`; `run()` returns how many messages it saw."""

    def __init__(
        self,
        connection: aio_pika.abc.AbstractConnection,
        queue: str,
        *,
        send_back: Callable[[AbstractIncomingMessage, DeadLetter], Awaitable[None]] | None = None,
        window: int = 100,
        phase: str = "scan",
        progress: Progress | None = None,
    ) -> None:
        self._connection = connection
        self._queue = queue
        self._send_back = send_back
        self._window = window
        self._phase = phase
        self._progress = progress
        self._mark = uuid.uuid4().hex
        self._slots = asyncio.Semaphore(window)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._failure: BaseException | None = None
        # Deliveries in the order taken, and those whose copy is confirmed: acked together, up to
        # the last one with none unconfirmed before it (one basic.ack(multiple) for a run of them).
        self._taken: deque[tuple[int, AbstractIncomingMessage]] = deque()
        self._confirmed: set[int] = set()
        self._ack_lock = asyncio.Lock()
        self.seen = 0
        self.peak_in_flight = 0

    async def run(self, visit: Visit) -> int:
        """Visit every message the queue holds now, once; raises the first failure to settle one."""
        channel = aio_pika.Channel(self._connection, publisher_confirms=True, on_return_raises=True)
        await channel.initialize()
        try:
            await channel.set_qos(prefetch_count=self._window)
            queue = await channel.declare_queue(self._queue, passive=True)
            total = queue.declaration_result.message_count or 0
            if total:
                await self._rotate(channel, queue, total, visit)
        finally:
            await asyncio.gather(*self._in_flight, return_exceptions=True)
            if not channel.is_closed:
                # Cut short: ack one by one what was copied behind a message that was not, so
                # that none of them stays twice in the queue.
                for tag, message in self._taken:
                    if tag in self._confirmed:
                        await message.ack()
                # Deliveries prefetched beyond the pass's end go back to their place in the queue.
                await channel.close()
        if self._failure is not None:
            raise self._failure
        return self.seen

    async def _rotate(
        self, channel: aio_pika.Channel, queue: AbstractQueue, total: int, visit: Visit
    ) -> None:
        inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()

        async def deliver(message: AbstractIncomingMessage) -> None:
            await inbox.put(message)

        try:
            await queue.consume(deliver, exclusive=True)
        except aiormq.exceptions.ChannelAccessRefused as exc:
            raise DeadLetterQueueBusy(
                f"{self._queue} is in use by another consumer (another codex-dlq run?); try again later"
            ) from exc
        while self.seen < total and self._failure is None:
            message = await self._next(inbox)
            if message is None:
                break
            if h.as_str((message.headers or {}).get(PASS_MARK)) == self._mark:
                await message.nack(requeue=True)  # full circle: it stays at the head, where it was
                break
            letter = DeadLetter.from_incoming(message)
            self._taken.append((message.delivery_tag or 0, message))
            move = await visit(letter)
            await self._slots.acquire()
            task = asyncio.create_task(self._settle(channel, message, letter, move))
            self._in_flight.add(task)
            self.peak_in_flight = max(self.peak_in_flight, len(self._in_flight))
            task.add_done_callback(self._in_flight.discard)
            self.seen += 1
            if self._progress:
                self._progress(self._phase, self.seen, total)

    async def _next(self, inbox: asyncio.Queue[AbstractIncomingMessage]) -> AbstractIncomingMessage | None:
        if not inbox.empty():
            return inbox.get_nowait()
        try:
            return await asyncio.wait_for(inbox.get(), _IDLE_S)
        except TimeoutError:
            pass
        # Nothing came: perhaps only because every prefetched delivery still waits for a confirm.
        await asyncio.gather(*self._in_flight, return_exceptions=True)
        try:
            return await asyncio.wait_for(inbox.get(), _IDLE_S)
        except TimeoutError:
            return None

    async def _settle(
        self, channel: aio_pika.Channel, message: AbstractIncomingMessage, letter: DeadLetter, move: bool
    ) -> None:
        try:
            if move and self._send_back is not None:
                try:
                    await self._send_back(message, letter)
                except KeepInQueue:
                    move = False
            if not move or self._send_back is None:
                await channel.default_exchange.publish(
                    _copy(message, letter, self._mark), routing_key=self._queue, mandatory=True
                )
            self._confirmed.add(message.delivery_tag or 0)
            await self._ack_confirmed()
        except BaseException as exc:  # kept for run() to raise; the unacked message stays
            if self._failure is None:
                self._failure = exc
        finally:
            self._slots.release()

    async def _ack_confirmed(self) -> None:
        last: AbstractIncomingMessage | None = None
        while self._taken and self._taken[0][0] in self._confirmed:
            tag, last = self._taken.popleft()
            self._confirmed.discard(tag)
        if last is not None:
            async with self._ack_lock:  # FIFO: acks leave in the order of their tags
                await last.ack(multiple=True)


def _copy(message: AbstractIncomingMessage, letter: DeadLetter, mark: str) -> aio_pika.Message:
    """The message as it was, for the tail of its queue.

    The broker's own `x-` headers cannot be carried over (RabbitMQ 4 drops a client-set `x-death`),
    so what a dead letter reads from them (source queue, routing key, reason, time) is written into
    our headers first: the copy reads back as the same dead letter.
    """
    headers: dict[str, Any] = h.copyable(message.headers)
    headers.setdefault(h.SOURCE_QUEUE, letter.source_queue)
    headers.setdefault(h.ROUTING_KEY, letter.routing_key)
    headers.setdefault(h.REASON, letter.reason)
    if letter.dead_lettered_at is not None:
        headers.setdefault(h.DEAD_LETTERED_AT, letter.dead_lettered_at.isoformat())
    headers[PASS_MARK] = mark
    return aio_pika.Message(
        message.body,
        headers=headers,
        content_type=message.content_type,
        content_encoding=message.content_encoding,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        priority=message.priority,
        correlation_id=message.correlation_id,
        reply_to=message.reply_to,
        message_id=message.message_id,
        timestamp=message.timestamp if isinstance(message.timestamp, datetime) else None,
        type=message.type,
        app_id=message.app_id,
    )
