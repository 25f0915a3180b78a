"""BROADCAST_URL=redis://…: writers publish after commit, the hub wakes and reads the table."""

from __future__ import annotations

import asyncio
import socket
import uuid

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from db.events import event_payload, publish_after_commit
from records.events import Cursor
from server.broadcast_pg import make_broadcast
from server.event_hub import EventHub

from .conftest import Collector, Parent, assert_stream, eventually, insert_event

REDIS_URL = "redis://127.0.0.1:6379"


def _redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not _redis_reachable(), reason="Redis is not running on 127.0.0.1:6379")


async def test_redis_broadcast_delivers_through_the_table(
    engine: AsyncEngine, pg: asyncpg.Connection, parent: Parent
) -> None:
    async with make_broadcast(REDIS_URL) as broadcast, EventHub(engine, broadcast) as hub:
        assert not hub.transactional_notify
        sub = Collector(hub.subscribe())
        await asyncio.sleep(0.1)  # let the Redis SUBSCRIBE settle
        written: list[Cursor] = []
        for _ in range(20):
            async with pg.transaction():
                written.append(await insert_event(pg, parent))
            await publish_after_commit(
                hub, event_payload(request_ids=[parent.request_id], kinds=["COMMENTED"])
            )
        assert_stream(await sub.wait_for(written, within=10), written)
        await sub.close()


async def test_redis_reconnect_emits_a_gap_and_keeps_delivering(
    engine: AsyncEngine, pg: asyncpg.Connection, parent: Parent
) -> None:
    from redis import asyncio as redis

    name = f"casegraph-test-{uuid.uuid4().hex[:12]}"
    admin = redis.Redis.from_url(REDIS_URL)
    async with (
        make_broadcast(f"{REDIS_URL}?client_name={name}") as broadcast,
        EventHub(engine, broadcast) as hub,
    ):
        sub = Collector(hub.subscribe())
        await asyncio.sleep(0.1)
        # Kill only this test's pub/sub connection (the Redis server may be shared).
        clients = await admin.client_list()
        ids = [c["id"] for c in clients if c.get("name") == name and "SUBSCRIBE" in c.get("cmd", "").upper()]
        ids = ids or [c["id"] for c in clients if c.get("name") == name and int(c.get("sub", 0)) > 0]
        assert ids, "pub/sub client not found"
        for client_id in ids:
            await admin.client_kill_filter(_id=client_id)
        during: list[Cursor] = []
        async with pg.transaction():
            during.append(await insert_event(pg, parent))  # its publish may be lost: the gap covers it
        await publish_after_commit(hub, "{}")
        await eventually(lambda: hub.stats.gaps > 0)
        after: list[Cursor] = []
        for _ in range(3):
            async with pg.transaction():
                after.append(await insert_event(pg, parent))
            await publish_after_commit(hub, "{}")
        expected = during + after
        assert_stream(await sub.wait_for(expected, within=10), expected)
        await sub.close()
    await admin.aclose()
