"""Two server processes on BROADCAST_URL=redis://… while Redis is down (issue 12 §2).

The scenario an operator tried: a real redis-server (started and killed by the
test), one server in this process and a second server process. Before, a
server refused to start without Redis and no subscriber received anything until
it came back. Now both start, /readyz says the broadcaster is degraded, every
subscriber (on the writing process and on the other one) gets every event from
the outbox, and /readyz is plain ready once Redis is back.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from server.settings import Settings
from tests.conftest import Tokens
from tests.realtime_api.conftest import Org, add_comment, serve
from tests.realtime_api.support import EVENT_FIELDS, ServerProcess, WsClient
from tests.support.builders import gid
from tests.support.redis_server import RedisServer, redis_server_available

pytestmark = pytest.mark.skipif(not redis_server_available(), reason="redis-server is not installed")

Sockets = Callable[..., Awaitable[WsClient]]

SUBSCRIBE = f"""
subscription($filter: RequestEventFilter) {{ requestEvents(filter: $filter) {{ {EVENT_FIELDS} }} }}
"""


@pytest.fixture
async def redis_down() -> AsyncIterator[RedisServer]:
    """A Redis URL nothing answers on yet (`start()` brings the server up on it)."""
    server = RedisServer()
    try:
        yield server
    finally:
        await server.close()


async def _ready(url: str) -> tuple[int, dict[str, str]]:
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        response = await http.get("/readyz")
    return response.status_code, response.json()


async def _until_ready(url: str, status: str, within: float = 20) -> dict[str, str]:
    async with asyncio.timeout(within):
        while True:
            code, body = await _ready(url)
            if code == 200 and body["status"] == status:
                return body
            await asyncio.sleep(0.2)


async def test_servers_start_and_deliver_without_redis_then_use_it_when_back(
    settings: Settings, db_url: str, org: Org, tokens: Tokens, sockets: Sockets, redis_down: RedisServer
) -> None:
    redis_settings = settings.model_copy(update={"broadcast_url": redis_down.url})
    other = ServerProcess(db_url, extra_env={"BROADCAST_URL": redis_down.url})
    try:
        async with serve(redis_settings) as writer:
            await other.ready()
            for url in (writer.url, other.url):
                body = await _until_ready(url, "degraded")
                assert body["broadcast"].startswith("degraded"), body
                assert body["database"] == "ok"

            admin = tokens.staff("admin@example.com", "ADMIN")
            agent = tokens.staff("ana@example.com", "AGENT")
            flt = {"filter": {"serviceRequestId": gid(org.acme_request)}}
            ws_writer, ws_other = await sockets(writer.url, admin), await sockets(other.url, admin)
            op_writer, op_other = (
                await ws_writer.subscribe(SUBSCRIBE, flt),
                await ws_other.subscribe(SUBSCRIBE, flt),
            )
            await ws_other.silent(op_other, 0.3)
            sent = [await add_comment(writer.url, agent, org.acme_request, f"down {i}") for i in range(5)]
            for ws, op in ((ws_writer, op_writer), (ws_other, op_other)):
                got = [e["comment"]["id"] for e in await ws.take(op, "requestEvents", 5, within=15)]
                assert got == sent

            await redis_down.start()
            for url in (writer.url, other.url):
                body = await _until_ready(url, "ready")
                assert body["broadcast"] == "ok"
            back = await add_comment(writer.url, agent, org.acme_request, "back")
            for ws, op in ((ws_writer, op_writer), (ws_other, op_other)):
                assert (await ws.next(op, within=15))["requestEvents"]["comment"]["id"] == back
    finally:
        await other.stop()
