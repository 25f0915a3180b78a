"""The app served by a real uvicorn on a free loopback port, for tests that need real sockets."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any, cast

import uvicorn
from starlette.types import ASGIApp

from server.app import create_app
from server.settings import Settings

__all__ = ["serving", "serving_asgi"]


@contextlib.asynccontextmanager
async def serving(
    settings: Settings, *, log_level: str = "warning", deflate: bool = False
) -> AsyncIterator[str]:
    """Serve `create_app(settings)` until the block ends; yields its base URL."""
    async with serving_asgi(create_app(settings), log_level=log_level, ws_per_message_deflate=deflate) as url:
        yield url


@contextlib.asynccontextmanager
async def serving_asgi(app: ASGIApp, **config: Any) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn until the block ends; yields its base URL (http://).

    As `casegraph serve` runs it (no per-message compression), with the lifespan on and no
    keep-alive pings unless `config` (uvicorn.Config's keywords) says otherwise.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    options: dict[str, Any] = {
        "log_level": "warning",
        "lifespan": "on",
        "ws_ping_interval": None,
        "ws_per_message_deflate": False,
    }
    server = uvicorn.Server(
        uvicorn.Config(cast(Any, app), host="127.0.0.1", port=port, **{**options, **config})
    )
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
