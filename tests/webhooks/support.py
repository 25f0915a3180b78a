"""Real HTTP receivers for webhook tests: an ASGI app under uvicorn on a free port that verifies
every delivery with the `standardwebhooks` reference library and answers as told."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.realtime_api.support import free_port


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    # Which of the receiver's known secrets verified it (with the stock library), by index.
    verified_by: list[int]

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class Receiver:
    """Answers by path: /ok 200, /fail 500, /gone 410, /hang waits for `release`, /once/hang waits
    the first time only, /flaky/N fails the first N requests and then answers 200."""

    base_url: str = ""
    secrets: list[str] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)
    _flaky_seen: dict[str, int] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.base_url + path

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    async def wait_for(self, path: str, count: int, within: float = 10) -> list[Received]:
        async with asyncio.timeout(within), self.arrived:
            await self.arrived.wait_for(lambda: len(self.at(path)) >= count)
        return self.at(path)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        verified = []
        for index, secret in enumerate(self.secrets):
            with contextlib.suppress(WebhookVerificationError):
                Webhook(secret).verify(body, headers)
                verified.append(index)
        path = scope["path"]
        self.received.append(Received(path, headers, body, verified))
        async with self.arrived:
            self.arrived.notify_all()
        status = 200
        if path.startswith("/fail"):
            status = 500
        elif path.startswith("/gone"):
            status = 410
        elif path.startswith("/hang") or (path.startswith("/once/hang") and len(self.at(path)) == 1):
            await self.release.wait()
        elif path.startswith("/flaky/"):
            limit = int(path.split("/")[2])
            seen = self._flaky_seen[path] = self._flaky_seen.get(path, 0) + 1
            status = 500 if seen <= limit else 200
        await send(
            {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]}
        )
        await send({"type": "http.response.body", "body": f"answer {status}".encode()})


@contextlib.asynccontextmanager
async def receiver() -> AsyncIterator[Receiver]:
    """A Receiver served by uvicorn on a free loopback port."""
    app = Receiver()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", timeout_graceful_shutdown=1
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    app.base_url = f"http://127.0.0.1:{port}"
    try:
        yield app
    finally:
        app.release.set()
        server.should_exit = True
        await task


class Clock:
    """The time the sender schedules by, moved by the test (never slept through)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta
