"""The app served by a real uvicorn on a free loopback port, for tests that need real sockets."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import uvicorn

from server.app import create_app
from server.settings import Settings

__all__ = ["serving"]


@contextlib.asynccontextmanager
async def serving(
    settings: Settings, *, log_level: str = "warning", deflate: bool = False
) -> AsyncIterator[str]:
    """Serve `create_app(settings)` until the block ends; yields its base URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        log_level=log_level,
        lifespan="on",
        ws_ping_interval=None,
        ws_per_message_deflate=deflate,  # off, as `casegraph serve` runs it
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
