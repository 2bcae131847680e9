"""Confirmed, mandatory, persistent publishing on one channel of the robust connection.

Every publish waits for the broker's confirm (basic.ack: the message is on disk in every queue it
was routed to). A mandatory message that no queue takes comes back as basic.return, which aiormq
turns into an error for that publish (`on_return_raises`), so nothing vanishes silently.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import aiormq
from aio_pika.abc import AbstractRobustChannel
from pamqp.commands import Basic

from codex_bus.errors import PublishFailed, PublishRejected, UnroutableMessage

__all__ = ["Publisher"]

_PERSISTENT = 2

# The least time a publish waits for its channel (a channel being reopened after a closed one).
_MIN_READY_WAIT_S = 1.0

# What a lost connection or a closing channel raises on a publish in flight.
_TRANSIENT = (
    aiormq.exceptions.AMQPConnectionError,
    aiormq.exceptions.AMQPChannelError,
    ConnectionError,
    aiormq.exceptions.ChannelInvalidStateError,
    TimeoutError,
)


class Publisher:
    """Publishes on a confirm channel opened with `on_return_raises=True`."""

    def __init__(self, channel: AbstractRobustChannel, *, confirm_timeout: float = 30.0) -> None:
        self._channel = channel
        self._confirm_timeout = confirm_timeout

    async def publish(
        self,
        body: bytes,
        *,
        exchange: str,
        routing_key: str,
        message_id: str,
        event_type: str | None = None,
        headers: Mapping[str, Any] | None = None,
        timestamp: datetime | None = None,
        reconnect_timeout: float = 0.0,
    ) -> None:
        """Publish one message and wait for its confirm.

        Raises `UnroutableMessage` when no queue takes it, `PublishRejected` on a nack, and
        `PublishFailed` when the connection is lost and not back within `reconnect_timeout`
        seconds (0: do not wait, e.g. when the caller's own delivery died with the connection).
        A message whose confirm was lost may have reached the broker: a retry can duplicate it.
        """
        properties = Basic.Properties(
            content_type="application/json",
            delivery_mode=_PERSISTENT,
            message_id=message_id,
            message_type=event_type,
            headers=dict(headers) if headers else None,
            timestamp=timestamp,
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + reconnect_timeout
        while True:
            try:
                # The robust channel waits for a lost connection to come back, for ever: bound
                # that wait, so that a caller holding a transaction (the relay) is not held with it.
                async with asyncio.timeout(max(deadline - loop.time(), _MIN_READY_WAIT_S)):
                    channel = await self._channel.get_underlay_channel()
                confirm = await channel.basic_publish(
                    body,
                    exchange=exchange,
                    routing_key=routing_key,
                    properties=properties,
                    mandatory=True,
                    timeout=self._confirm_timeout,
                )
            except aiormq.exceptions.PublishError:
                raise UnroutableMessage(exchange, routing_key) from None
            except aiormq.exceptions.DeliveryError as exc:
                raise PublishRejected(f"broker refused message {message_id} ({routing_key}): {exc}") from exc
            except _TRANSIENT as exc:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise PublishFailed(
                        f"message {message_id} ({routing_key}) was not confirmed: {type(exc).__name__}: {exc}"
                    ) from exc
                await self._wait_ready(remaining, exc)
                continue
            if not isinstance(confirm, Basic.Ack):
                raise PublishRejected(f"broker did not ack message {message_id} ({routing_key}): {confirm!r}")
            return

    async def _wait_ready(self, timeout: float, cause: BaseException) -> None:
        try:
            async with asyncio.timeout(timeout):
                await self._channel.ready()
                # ready() may return while the robust channel still holds the dead underlay; give
                # the reconnection a moment instead of spinning on the same closed channel.
                await asyncio.sleep(0.05)
        except TimeoutError:
            raise PublishFailed(f"connection not restored within {timeout:.1f} s: {cause}") from cause
