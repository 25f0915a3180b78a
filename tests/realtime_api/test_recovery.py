"""Robustness: a dropped LISTEN connection loses nothing; every event is resolved with fresh data."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from records.events import STREAM_START, encode_cursor
from schema import ids
from tests.conftest import Tokens
from tests.realtime_api.conftest import LiveApp, Org, add_comment, write_event
from tests.realtime_api.support import EVENT_FIELDS, WsClient

Sockets = Callable[..., Awaitable[WsClient]]

SUBSCRIBE = f"subscription($after: String) {{ requestEvents(after: $after) {{ {EVENT_FIELDS} }} }}"
WITH_STATUS = """
subscription($after: String) {
  requestEvents(after: $after) { id kind serviceRequest { priority version } }
}
"""


async def _event_ids(ws: WsClient, op: str, count: int) -> list[int]:
    events = await ws.take(op, "requestEvents", count, within=20)
    return [pk for pk in (ids.decode_as(e["id"], "RequestEvent") for e in events) if pk is not None]


async def test_dropped_listen_connection_recovers_without_losing_events(
    server_a: LiveApp, org: Org, engine: AsyncEngine, db_url: str, tokens: Tokens, sockets: Sockets
) -> None:
    backend = server_a.app.state.workers.broadcast._backend  # broadcaster has no accessor
    listener = backend.listener_pid
    assert listener is not None
    admin = tokens.staff("admin@example.com", "ADMIN")
    ws = await sockets(server_a.url, admin)
    live = await ws.subscribe(SUBSCRIBE)  # live only: relies on the hub alone, no replay to help
    await ws.silent(live, 0.3)
    before = await write_event(engine, org.acme_request, "COMMENTED")
    assert await _event_ids(ws, live, 1) == before

    conn = await asyncpg.connect(db_url)
    try:
        assert await conn.fetchval("SELECT pg_terminate_backend($1)", listener)
    finally:
        await conn.close()
    # Committed while nobody listens: their NOTIFYs are lost for good.
    meanwhile: list[int] = []
    for request in (org.acme_request, org.other_request, org.acme_request):
        meanwhile += await write_event(engine, request, "COMMENTED")
    assert await _event_ids(ws, live, 3) == meanwhile

    for _ in range(200):  # the backend reconnects on its own; wait for the new LISTEN connection
        if backend.listener_pid not in (None, listener):
            break
        await asyncio.sleep(0.05)
    assert backend.listener_pid not in (None, listener)
    after = [await add_comment(server_a.url, admin, org.other_request, f"after {i}") for i in range(2)]
    events = await ws.take(live, "requestEvents", 2)
    assert [e["comment"]["id"] for e in events] == after
    await ws.silent(live, 0.3)
    assert backend.reconnects >= 1


async def test_every_event_is_resolved_with_fresh_data(
    server_a: LiveApp, org: Org, engine: AsyncEngine, tokens: Tokens, sockets: Sockets
) -> None:
    ws = await sockets(server_a.url, tokens.staff("admin@example.com", "ADMIN"))
    op = await ws.subscribe(WITH_STATUS, {"after": encode_cursor(STREAM_START)})
    await write_event(engine, org.acme_request, "COMMENTED")
    first = (await ws.next(op))["requestEvents"]
    assert first["serviceRequest"] == {"priority": "MEDIUM", "version": 1}
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE service_requests SET priority = 'URGENT', version = 2 WHERE id = :id"),
            {"id": org.acme_request.id},
        )
    await write_event(engine, org.acme_request, "TRIAGED")
    second = (await ws.next(op))["requestEvents"]
    assert second["serviceRequest"] == {"priority": "URGENT", "version": 2}
