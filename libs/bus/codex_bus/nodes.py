"""Several RabbitMQ nodes behind one `AMQP_URL`, and a robust connection that fails over between them.

`AMQP_URL` names one node (`amqp://user:pass@rabbit-1:5672/vhost`) or a cluster, either as several
hosts in one URL, as libpq does (`amqp://user:pass@rabbit-1:5672,rabbit-2:5672,rabbit-3:5672/vhost`),
or as several URLs separated by commas. The bus connects to the first node that answers; when
its connection is lost, each reconnection attempt goes to the next node of the list, round-robin,
so a node that is down costs one attempt (`reconnect_interval`), not the whole outage.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Any

from aio_pika import RobustConnection
from aio_pika.abc import UnderlayConnection
from aio_pika.exceptions import CONNECTION_EXCEPTIONS
from yarl import URL

__all__ = ["FailoverConnection", "connect_failover", "node_urls"]

_MULTI_HOST = re.compile(
    r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^@/]*@)?(?P<hosts>[^/?#]*)(?P<rest>.*)$"
)


def node_urls(url: str) -> list[str]:
    """The URL of each node that `url` names (see the module's docstring), in order."""
    pieces = [piece.strip() for piece in url.split(",") if piece.strip()]
    if all("://" in piece for piece in pieces):
        return pieces
    match = _MULTI_HOST.match(url.strip())
    if match is None:
        raise ValueError("AMQP_URL must look like amqp://user:pass@host:port[,host:port...]/vhost")
    scheme, userinfo, rest = match["scheme"], match["userinfo"] or "", match["rest"]
    return [f"{scheme}{userinfo}{host.strip()}{rest}" for host in match["hosts"].split(",") if host.strip()]


class FailoverConnection(RobustConnection):
    """A `RobustConnection` whose every connection attempt after the first goes to the next node."""

    def __init__(self, url: URL, loop: asyncio.AbstractEventLoop | None = None, **kwargs: Any) -> None:
        nodes: Sequence[URL] = kwargs.pop("nodes", ()) or (url,)
        self._nodes = tuple(nodes)
        self._start = self._nodes.index(url) if url in self._nodes else 0
        self._attempts = 0
        self._link: UnderlayConnection | None = None
        self._constructed = False
        super().__init__(url, loop=loop, **kwargs)
        self._constructed = True

    # aio-pika clears `transport` right before each connection attempt, then reads `url` once to
    # connect: that is the moment to pick the node. Its reconnection loop has no other hook.
    @property
    def transport(self) -> UnderlayConnection | None:
        return self._link

    @transport.setter
    def transport(self, value: UnderlayConnection | None) -> None:
        if value is None and self._constructed:
            self.url = self._nodes[(self._start + self._attempts) % len(self._nodes)]
            self._attempts += 1
        self._link = value

    @property
    def node(self) -> str:
        """The node of the current (or last) connection, as host:port."""
        return f"{self.url.host}:{self.url.port}"


async def connect_failover(url: str, **kwargs: Any) -> FailoverConnection:
    """Connect to the first node of `url` that answers; raise the last error when none does."""
    nodes = [URL(node) for node in node_urls(url)]
    error: BaseException | None = None
    for node in nodes:
        connection = FailoverConnection(node, nodes=nodes, **kwargs)
        try:
            await connection.connect()
        except CONNECTION_EXCEPTIONS as exc:
            error = exc
            await connection.close()
            continue
        return connection
    assert error is not None
    raise error
