"""A TCP proxy in front of the broker that a test can cut and restore: an outage of "the broker"
(or of one node of it) for the connections that go through it, and for no one else's."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit, urlunsplit


class TcpProxy:
    """Forwards 127.0.0.1:<port> to the broker of `target_url` while up."""

    def __init__(self, target_url: str) -> None:
        parts = urlsplit(target_url)
        self._target = (parts.hostname or "127.0.0.1", parts.port or 5672)
        self._url = parts
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The target URL with this proxy as its host."""
        userinfo = self._url.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@{self.address}" if userinfo else self.address
        return urlunsplit(self._url._replace(netloc=netloc))

    async def start(self) -> None:
        """Listen (on the same port as before, after a `cut`)."""
        self._server = await asyncio.start_server(self._link, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Stop listening and drop every forwarded connection: the broker is away."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._links):
            writer.transport.abort()
        self._links.clear()

    async def _link(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            broker_reader, broker_writer = await asyncio.open_connection(*self._target)
        except OSError:
            client_writer.transport.abort()
            return
        self._links.update((client_writer, broker_writer))
        await asyncio.gather(
            _pipe(client_reader, broker_writer), _pipe(broker_reader, client_writer), return_exceptions=True
        )
        for writer in (client_writer, broker_writer):
            self._links.discard(writer)
            writer.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.transport.abort()
