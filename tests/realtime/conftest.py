"""Fixtures for the event-stream tests: parent rows, raw event writers, a broadcast and a hub."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

import asyncpg
import pytest
from broadcaster import Broadcast
from sqlalchemy.ext.asyncio import AsyncEngine

from db.events import notify_events
from records.events import Cursor, EventRow
from server.broadcast_pg import make_broadcast
from server.event_hub import EventHub


@dataclass(frozen=True)
class Parent:
    """A service request (and its customer) that events can point at."""

    request_id: int
    customer_id: int


async def make_parent(conn: asyncpg.Connection, ref: str = "C-1") -> Parent:
    customer_id = await conn.fetchval(
        "INSERT INTO customers (external_ref, name, segment, country, kyc_status, risk_rating) "
        "VALUES ($1, 'Acme', 'SMB', 'US', 'VERIFIED', 'LOW') RETURNING id",
        ref,
    )
    request_id = await conn.fetchval(
        "INSERT INTO service_requests (customer_id, type, channel, subject, description, priority, "
        "status, created_by_subject, sla_policy_id, first_response_due_at, resolution_due_at) "
        "SELECT $1, 'BILLING_DISPUTE', 'PORTAL', 's', 'd', 'LOW', 'NEW', 'test', id, "
        "now() + interval '1 day', now() + interval '2 days' FROM sla_policies LIMIT 1 RETURNING id",
        customer_id,
    )
    return Parent(request_id=request_id, customer_id=customer_id)


async def insert_event(conn: asyncpg.Connection, parent: Parent, kind: str = "COMMENTED") -> Cursor:
    """Insert one event in the connection's current transaction; returns its stream position."""
    row = await conn.fetchrow(
        "INSERT INTO request_events (request_id, kind, actor_subject, actor_name, customer_id) "
        "VALUES ($1, $2, 'test', 'Test', $3) RETURNING txid, id",
        parent.request_id,
        kind,
        parent.customer_id,
    )
    return Cursor(row["txid"], row["id"])


async def write_event(conn: asyncpg.Connection, parent: Parent, kind: str = "COMMENTED") -> Cursor:
    """One event in its own transaction, announced with pg_notify at commit (what writers do)."""
    async with conn.transaction():
        cursor = await insert_event(conn, parent, kind)
        await notify_events(conn, request_ids=[parent.request_id], kinds=[kind])
    return cursor


async def eventually(predicate: Callable[[], bool], within: float = 10) -> None:
    """Poll until `predicate()` holds; fail after `within` seconds."""
    for _ in range(int(within / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached in time")


async def collect(
    events: AsyncIterator[EventRow], until: Callable[[list[EventRow]], bool], within: float = 30
) -> list[EventRow]:
    """Read from a subscription until `until(received)` holds (or fail after `within` seconds)."""
    received: list[EventRow] = []
    async with asyncio.timeout(within):
        async for row in events:
            received.append(row)
            if until(received):
                break
    return received


class Collector:
    """Drains a subscription in a background task (optionally slowly) into `rows`."""

    def __init__(self, events: AsyncIterator[EventRow], *, delay: float = 0) -> None:
        self.rows: list[EventRow] = []
        self._delay = delay
        self._task = asyncio.create_task(self._run(events))

    async def _run(self, events: AsyncIterator[EventRow]) -> None:
        async for row in events:
            self.rows.append(row)
            if self._delay:
                await asyncio.sleep(self._delay)

    async def wait_for(self, expected: Sequence[Cursor], within: float = 30) -> list[EventRow]:
        """Wait until every expected event arrived, then a little longer for any extra one."""
        wanted = set(expected)

        def arrived() -> bool:
            if self._task.done():
                self._task.result()
                raise AssertionError("subscription ended early")
            return wanted <= {row.cursor for row in self.rows}

        await eventually(arrived, within)
        await asyncio.sleep(0.1)
        return list(self.rows)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def assert_stream(received: Sequence[EventRow], expected: Sequence[Cursor]) -> None:
    """Exactly the expected events, once each, in (txid, id) order."""
    got = [row.cursor for row in received]
    assert len(got) == len(set(got)), "duplicate delivery"
    assert got == sorted(got), "out of stream order"
    assert set(got) == set(expected), f"missing {sorted(set(expected) - set(got))[:5]}"


@pytest.fixture
async def pg(db_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(db_url)
    yield conn
    await conn.close()


@pytest.fixture
async def parent(pg: asyncpg.Connection) -> Parent:
    return await make_parent(pg)


@pytest.fixture
async def broadcast(db_url: str) -> AsyncIterator[Broadcast]:
    async with make_broadcast(db_url, health_check_interval=0.5) as bc:
        yield bc


@pytest.fixture
async def hub(engine: AsyncEngine, broadcast: Broadcast) -> AsyncIterator[EventHub]:
    async with EventHub(engine, broadcast) as h:
        yield h
