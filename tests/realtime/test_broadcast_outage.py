"""BROADCAST_URL=redis://…: the event stream keeps flowing while Redis is down (issue 12 §2).

A real redis-server, started and killed by the test. While it is down each hub
reads the outbox itself (a bounded poll) and says so (`broadcast_degraded`);
when it is back, push delivery resumes. A hub starts without Redis at all.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from db.events import event_payload, publish_after_commit
from records.events import Cursor
from server.broadcast_pg import make_broadcast
from server.event_hub import EventHub
from tests.support.redis_server import RedisServer, redis_server_available

from .conftest import Collector, Parent, assert_stream, eventually, insert_event

pytestmark = pytest.mark.skipif(not redis_server_available(), reason="redis-server is not installed")

# Fast watch for the test: heartbeat every 0.2 s, degraded after 0.6 s of silence, poll every 0.2 s.
FAST: dict[str, Any] = {"heartbeat_interval": 0.2, "fallback_poll_interval": 0.2, "publish_timeout": 1.0}


@pytest.fixture
async def redis_server() -> AsyncIterator[RedisServer]:
    server = RedisServer()
    await server.start()
    try:
        yield server
    finally:
        await server.close()


async def _commit(pg: asyncpg.Connection, parent: Parent, hub: EventHub) -> Cursor:
    """One event committed, then announced through the writer's hub (what the unit of work does)."""
    async with pg.transaction():
        cursor = await insert_event(pg, parent)
    await publish_after_commit(hub, event_payload(request_ids=[parent.request_id], kinds=["COMMENTED"]))
    return cursor


async def test_events_flow_while_redis_is_down_and_push_resumes_after(
    engine: AsyncEngine, pg: asyncpg.Connection, parent: Parent, redis_server: RedisServer
) -> None:
    async with (
        make_broadcast(redis_server.url) as b1,
        make_broadcast(redis_server.url) as b2,
        EventHub(engine, b1, **FAST) as writer,  # the process that commits
        EventHub(engine, b2, **FAST) as other,  # another process
    ):
        local, remote = Collector(writer.subscribe()), Collector(other.subscribe())
        await eventually(lambda: writer.stats.heartbeats > 0 and other.stats.heartbeats > 0)
        before = [await _commit(pg, parent, writer)]
        await local.wait_for(before, within=10)
        await remote.wait_for(before, within=10)
        assert writer.broadcast_degraded is None and other.broadcast_degraded is None

        await redis_server.stop()
        during = [await _commit(pg, parent, writer) for _ in range(10)]
        # Both processes get every event while Redis is down: the writer's hub is woken by
        # its own commit, the other one reads the outbox on its bounded poll.
        await local.wait_for(before + during, within=15)
        await remote.wait_for(before + during, within=15)
        await eventually(lambda: bool(writer.broadcast_degraded and other.broadcast_degraded), within=10)
        polls = other.stats.polls
        during += [await _commit(pg, parent, writer) for _ in range(10)]
        await remote.wait_for(before + during, within=15)
        assert other.stats.polls > polls

        await redis_server.start()
        await eventually(
            lambda: writer.broadcast_degraded is None and other.broadcast_degraded is None, within=20
        )
        wakeups = other.stats.wakeups
        after = [await _commit(pg, parent, writer) for _ in range(3)]
        expected = before + during + after
        assert_stream(await local.wait_for(expected, within=10), expected)
        assert_stream(await remote.wait_for(expected, within=10), expected)
        assert other.stats.wakeups > wakeups  # announced through Redis again, not only polled
        await local.close()
        await remote.close()


async def test_a_hub_starts_without_redis_and_picks_it_up_later(
    engine: AsyncEngine,
    pg: asyncpg.Connection,
    parent: Parent,
    redis_server: RedisServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await redis_server.stop()
    caplog.set_level(logging.INFO)
    async with make_broadcast(redis_server.url) as broadcast, EventHub(engine, broadcast, **FAST) as hub:
        assert any("unreachable" in r.getMessage() for r in caplog.records), caplog.text
        await eventually(lambda: hub.broadcast_degraded is not None)
        sub = Collector(hub.subscribe())
        while_down = [await _commit(pg, parent, hub) for _ in range(3)]
        await sub.wait_for(while_down, within=10)
        # One line for the outage, not one per poll or per publish.
        degraded_lines = [r for r in caplog.records if "degraded" in r.getMessage()]
        assert len(degraded_lines) == 1, degraded_lines

        await redis_server.start()
        await eventually(lambda: hub.broadcast_degraded is None, within=20)
        later = [await _commit(pg, parent, hub) for _ in range(2)]
        expected = while_down + later
        assert_stream(await sub.wait_for(expected, within=10), expected)
        await sub.close()
