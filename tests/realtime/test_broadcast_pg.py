"""PostgresNotifyBackend: concurrent publishes, reconnect after a killed LISTEN connection, gaps."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import pytest
from broadcaster import Broadcast
from broadcaster._backends.postgres import PostgresBackend
from sqlalchemy.ext.asyncio import AsyncEngine

from db.events import EVENTS_CHANNEL, publish_after_commit
from server.broadcast_pg import GAP_MESSAGE, PostgresNotifyBackend, is_gap, make_broadcast
from server.event_hub import EventHub

from .conftest import Collector, Parent, assert_stream, eventually, write_event


def _backend(broadcast: Broadcast) -> PostgresNotifyBackend:
    backend = broadcast._backend
    assert isinstance(backend, PostgresNotifyBackend)
    return backend


async def _messages(broadcast: Broadcast, channel: str, count: int, started: asyncio.Event) -> list[str]:
    got: list[str] = []
    async with asyncio.timeout(15), broadcast.subscribe(channel) as sub:
        started.set()
        while len(got) < count:
            got.append((await sub.get()).message)
    return got


async def test_50_concurrent_publishes_all_arrive(broadcast: Broadcast) -> None:
    started = asyncio.Event()
    listening = asyncio.create_task(_messages(broadcast, "bench", 50, started))
    await asyncio.wait_for(started.wait(), 10)
    await asyncio.gather(*(broadcast.publish("bench", f"m{i}") for i in range(50)))
    got = await asyncio.wait_for(listening, 10)
    assert sorted(got) == sorted(f"m{i}" for i in range(50))


async def test_upstream_backend_loses_concurrent_publishes(db_url: str) -> None:
    """Why this backend exists: upstream shares its LISTEN connection for publishing."""
    async with Broadcast(backend=PostgresBackend(db_url)) as upstream:
        results = await asyncio.gather(
            *(upstream.publish("bench", f"m{i}") for i in range(50)), return_exceptions=True
        )
    assert sum(isinstance(r, Exception) for r in results) > 0


async def test_killed_listen_connection_reconnects_and_loses_nothing(
    engine: AsyncEngine, broadcast: Broadcast, db_url: str, pg: asyncpg.Connection, parent: Parent
) -> None:
    backend = _backend(broadcast)
    gaps = GapWatcher(broadcast)
    await gaps.ready()  # broadcaster races when two first subscribers of a channel start at once
    async with EventHub(engine, broadcast) as hub:
        sub = Collector(hub.subscribe())
        before = [await write_event(pg, parent)]
        await sub.wait_for(before)

        old_pid = backend.listener_pid
        assert await pg.fetchval("SELECT pg_terminate_backend($1)", old_pid)
        # Committed while the listener is down or reconnecting: no NOTIFY reaches anyone.
        during = [await write_event(pg, parent) for _ in range(5)]

        await eventually(lambda: backend.reconnects > 0 and backend.listener_pid is not None)
        assert backend.listener_pid != old_pid
        # Re-LISTENed: new commits are announced again (the hub does not poll by default).
        after = [await write_event(pg, parent) for _ in range(5)]
        expected = before + during + after
        assert_stream(await sub.wait_for(expected), expected)
        await sub.close()
        assert hub.stats.gaps >= 1
    assert await gaps.wait() == GAP_MESSAGE
    listening = await pg.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'casegraph-listen' AND pid <> $1",
        old_pid,
    )
    assert listening >= 1


class GapWatcher:
    """Waits for the first gap message on the events channel."""

    def __init__(self, broadcast: Broadcast) -> None:
        self._broadcast = broadcast
        self._ready = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> str:
        async with self._broadcast.subscribe(EVENTS_CHANNEL) as sub:
            self._ready.set()
            while True:
                message = (await sub.get()).message
                if is_gap(message):
                    return message

    async def ready(self) -> None:
        await self._ready.wait()

    async def wait(self) -> str:
        return await asyncio.wait_for(self._task, 10)


async def test_subscribe_while_disconnected_listens_after_reconnect(
    broadcast: Broadcast, pg: asyncpg.Connection
) -> None:
    backend = _backend(broadcast)
    await pg.fetchval("SELECT pg_terminate_backend($1)", backend.listener_pid)
    got: list[str] = []
    async with asyncio.timeout(15), broadcast.subscribe("late") as sub:
        # The subscription lands on the dead connection, during the reconnect or after
        # it: either way a message published later arrives (possibly after a gap).
        while "hello" not in got:
            await broadcast.publish("late", "hello")
            with contextlib.suppress(TimeoutError):
                got.append((await asyncio.wait_for(sub.get(), 0.2)).message)
    assert backend.reconnects >= 1
    assert set(got) <= {"hello", GAP_MESSAGE}


async def test_publish_after_commit_is_a_no_op_for_postgres(
    broadcast: Broadcast, engine: AsyncEngine
) -> None:
    async with EventHub(engine, broadcast) as hub:
        assert hub.transactional_notify
        before = hub.stats.wakeups
        await publish_after_commit(hub, {"requests": [1]})
        await asyncio.sleep(0.1)
        assert hub.stats.wakeups == before


async def test_payload_limit_and_url_schemes(broadcast: Broadcast) -> None:
    with pytest.raises(ValueError):
        await broadcast.publish("bench", "x" * 8000)
    with pytest.raises(ValueError):
        make_broadcast("mysql://localhost/db")
    assert isinstance(make_broadcast("postgresql+asyncpg://u@h/db")._backend, PostgresNotifyBackend)
