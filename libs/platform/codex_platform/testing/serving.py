"""`serve(app)`: a real uvicorn server for an ASGI app on a free local port, lifespan included."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

__all__ = ["serve"]


@asynccontextmanager
async def serve(app: Any, *, forwarded_allow_ips: str | None = "*") -> AsyncIterator[str]:
    """Serve `app` on 127.0.0.1 (a free port); yields its base URL, stops it on exit.

    X-Forwarded-For is trusted from anyone by default here, so tests can speak for several clients.
    """
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_config=None, lifespan="on", forwarded_allow_ips=forwarded_allow_ips
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # raises what stopped it
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
