"""Real WebSocket clients speaking graphql-transport-ws by hand, and real servers to talk to.

`WsClient` connects over TCP with the `websockets` package; `ServerProcess`
runs `python -m uvicorn --factory server.app:create_app` in a subprocess
against a given database (its own engine, EventHub and LISTEN connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

__all__ = ["EVENT_FIELDS", "Closed", "OperationError", "ServerProcess", "WsClient", "free_port", "graphql"]

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL = "graphql-transport-ws"
EVENT_FIELDS = (
    "id cursor kind occurredAt actorName serviceRequest { id number } comment { id body visibility }"
)


class Closed(Exception):
    """The server closed the socket; `code` is the close code."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"socket closed: {code} {reason}")
        self.code = code
        self.reason = reason


class OperationError(Exception):
    """A graphql-transport-ws `error` message for one operation."""

    def __init__(self, payload: list[dict[str, Any]]) -> None:
        super().__init__(payload)
        self.payload = payload

    @property
    def codes(self) -> list[str | None]:
        return [e.get("extensions", {}).get("code") for e in self.payload]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ws_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://", 1) + "/graphql"


class WsClient:
    """One socket; a reader task sorts incoming messages per operation id."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self._ids = itertools.count(1)
        self._queues: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self.close_code: int | None = None
        self.close_reason = ""
        self._closed = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    @classmethod
    async def open(
        cls, base_url: str, token: str | None, *, payload: dict[str, Any] | None = None, within: float = 10
    ) -> WsClient:
        """Connect and initialise (connection_init / connection_ack); Closed if refused."""
        ws = await connect(ws_url(base_url), subprotocols=[PROTOCOL], open_timeout=within)  # type: ignore[list-item]
        client = cls(ws)
        init: dict[str, Any] = {"type": "connection_init"}
        if payload is not None:
            init["payload"] = payload
        elif token is not None:
            init["payload"] = {"authorization": f"Bearer {token}"}
        await ws.send(json.dumps(init))
        try:
            async with asyncio.timeout(within):
                ack = json.loads(await ws.recv())
        except ConnectionClosed as exc:
            raise Closed(exc.rcvd.code if exc.rcvd else None, exc.rcvd.reason if exc.rcvd else "") from exc
        assert ack["type"] == "connection_ack", ack
        client._reader = asyncio.create_task(client._read())
        return client

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                message = json.loads(raw)
                if message.get("type") == "ping":
                    await self.ws.send(json.dumps({"type": "pong"}))
                    continue
                op_id = message.get("id")
                if op_id is not None:
                    self._queue(op_id).put_nowait(message)
        except ConnectionClosed:
            pass
        finally:
            rcvd = self.ws.close_code
            self.close_code = rcvd
            self.close_reason = self.ws.close_reason or ""
            self._closed.set()

    def _queue(self, op_id: str) -> asyncio.Queue[dict[str, Any]]:
        return self._queues.setdefault(op_id, asyncio.Queue())

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        """Send a subscribe message; returns the operation id."""
        op_id = str(next(self._ids))
        self._queue(op_id)
        payload = {"query": query, "variables": variables or {}}
        await self.ws.send(json.dumps({"id": op_id, "type": "subscribe", "payload": payload}))
        return op_id

    async def message(self, op_id: str, within: float = 10) -> dict[str, Any]:
        """The next message of this operation; Closed if the socket closes first."""
        queue = self._queue(op_id)
        getter = asyncio.ensure_future(queue.get())
        closed = asyncio.ensure_future(self._closed.wait())
        try:
            done, _ = await asyncio.wait(
                {getter, closed}, timeout=within, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            closed.cancel()
        if getter in done:
            return getter.result()
        getter.cancel()
        if self._closed.is_set():
            raise Closed(self.close_code, self.close_reason)
        raise TimeoutError(f"no message for operation {op_id} within {within}s")

    async def next(self, op_id: str, within: float = 10) -> dict[str, Any]:
        """The data of the next `next` message (asserts no GraphQL errors); OperationError on `error`."""
        message = await self.message(op_id, within)
        if message["type"] == "error":
            raise OperationError(message["payload"])
        assert message["type"] == "next", message
        payload = message["payload"]
        assert not payload.get("errors"), payload
        data: dict[str, Any] = payload["data"]
        return data

    async def take(self, op_id: str, field: str, count: int, within: float = 15) -> list[dict[str, Any]]:
        """`count` consecutive values of `field` from `next` messages."""
        return [(await self.next(op_id, within))[field] for _ in range(count)]

    async def silent(self, op_id: str, seconds: float) -> None:
        """Assert nothing arrives for this operation within `seconds`."""
        with contextlib.suppress(TimeoutError):
            message = await self.message(op_id, seconds)
            raise AssertionError(f"unexpected message: {message}")

    async def complete(self, op_id: str) -> None:
        await self.ws.send(json.dumps({"id": op_id, "type": "complete"}))

    async def wait_closed(self, within: float = 10) -> int | None:
        async with asyncio.timeout(within):
            await self._closed.wait()
        return self.close_code

    async def close(self) -> None:
        await self.ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader


async def graphql(
    base_url: str, token: str, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One GraphQL operation over real HTTP; asserts no top-level errors."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        response = await http.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {token}"},
        )
    body: dict[str, Any] = response.json()
    assert not body.get("errors"), body
    return body["data"]  # type: ignore[no-any-return]


class ServerProcess:
    """`python -m uvicorn --factory server.app:create_app` on a free port, in a subprocess."""

    def __init__(self, database_url: str, *, workers: bool = False, extra_env: dict[str, str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "CASEGRAPH_ENV": "test",
            "CASEGRAPH_WORKERS": "true" if workers else "false",
        }
        env.pop("BROADCAST_URL", None)
        env.update(extra_env or {})
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "server.app:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        )

    @property
    def pid(self) -> int:
        return self._proc.pid

    async def ready(self, within: float = 30) -> ServerProcess:
        async with asyncio.timeout(within), httpx.AsyncClient(base_url=self.url) as http:
            while True:
                if self._proc.poll() is not None:
                    raise RuntimeError(f"server exited with {self._proc.returncode}")
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/healthz")).status_code == 200:
                        return self
                await asyncio.sleep(0.1)

    async def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                await asyncio.wait_for(asyncio.to_thread(self._proc.wait), 15)
            except TimeoutError:
                self._proc.kill()
                await asyncio.to_thread(self._proc.wait)
