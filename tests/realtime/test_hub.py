"""EventHub: replay then live without gap or duplicate, many processes, slow consumers."""

from __future__ import annotations

import asyncio
import gc
import random
import tracemalloc
from collections.abc import Sequence

import asyncpg
from broadcaster import Broadcast
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import make_sessionmaker
from db.events import EventFilter, notify_events
from records.events import STREAM_START, Cursor, EventRow
from server.broadcast_pg import make_broadcast
from server.event_hub import EventHub

from .conftest import (
    Collector,
    Parent,
    assert_stream,
    collect,
    eventually,
    insert_event,
    make_parent,
    write_event,
)


async def _write_concurrently(db_url: str, parent: Parent, count: int, writers: int = 8) -> list[Cursor]:
    """`count` events, each in its own transaction, from `writers` connections at once.

    Random pauses inside the transactions make commits land out of id order.
    """
    conns = [await asyncpg.connect(db_url) for _ in range(writers)]
    written: list[Cursor] = []

    async def worker(conn: asyncpg.Connection, n: int) -> None:
        for _ in range(n):
            async with conn.transaction():
                written.append(await insert_event(conn, parent))
                await asyncio.sleep(random.random() * 0.004)
                await notify_events(conn, request_ids=[parent.request_id], kinds=["COMMENTED"])

    try:
        share = [count // writers + (1 if i < count % writers else 0) for i in range(writers)]
        await asyncio.gather(*(worker(c, n) for c, n in zip(conns, share, strict=True)))
    finally:
        for conn in conns:
            await conn.close()
    return written


async def test_replay_then_live_while_500_events_are_written(
    engine: AsyncEngine, broadcast: Broadcast, db_url: str, pg: asyncpg.Connection, parent: Parent
) -> None:
    before = [await write_event(pg, parent) for _ in range(120)]
    # Small pages and a consumer that takes its time: the replay overlaps the live
    # fan-out, so the switch really has to merge.
    async with EventHub(engine, broadcast, page_size=25) as hub:
        writing = asyncio.create_task(_write_concurrently(db_url, parent, 500))
        await asyncio.sleep(0.05)  # the subscriber starts while the writers are busy
        sub = Collector(hub.subscribe(after=before[19]), delay=0.001)
        expected = before[20:] + await writing
        received = await sub.wait_for(expected)
        await sub.close()
    assert_stream(received, expected)
    assert len(received) == 600


async def test_live_subscription_without_cursor_gets_what_is_committed_after_the_call(
    hub: EventHub, db_url: str, pg: asyncpg.Connection, parent: Parent
) -> None:
    old = await write_event(pg, parent)
    await eventually(lambda: hub.position >= old)  # the hub has read it: it is the past now
    sub = Collector(hub.subscribe())  # established by the call itself
    new = [await write_event(pg, parent)] + await _write_concurrently(db_url, parent, 50, writers=4)
    received = await sub.wait_for(new)
    await sub.close()
    assert_stream(received, new)
    assert hub.subscriber_count == 0


async def test_an_idle_hub_reads_no_rows_and_a_later_subscriber_misses_nothing(
    engine: AsyncEngine, broadcast: Broadcast, pg: asyncpg.Connection, parent: Parent
) -> None:
    async with EventHub(engine, broadcast, idle_refresh_interval=30) as hub:
        await eventually(lambda: hub.stats.head_reads == 1)  # the read at start: the position is the head
        start = hub.position
        old = [await write_event(pg, parent) for _ in range(10)]
        await eventually(lambda: hub.stats.wakeups >= 10)
        await asyncio.sleep(0.1)
        # Nobody listens: ten announcements, no rows read, one head read per interval.
        assert (hub.stats.reads, hub.stats.head_reads, hub.position) == (0, 1, start)

        sub = Collector(hub.subscribe())  # ends the idle wait: rows are read again
        new = [await write_event(pg, parent) for _ in range(5)]
        received = await sub.wait_for(new)
        await sub.close()
    # Everything committed after the call, in order; before it, only events from the last interval.
    assert_stream(received, old + new)
    assert hub.stats.reads > 0


async def test_a_hub_with_a_callback_reads_rows_on_every_wakeup(
    engine: AsyncEngine, broadcast: Broadcast, pg: asyncpg.Connection, parent: Parent
) -> None:
    batches: list[Sequence[EventRow]] = []
    async with EventHub(engine, broadcast, idle_refresh_interval=30) as hub:
        unhook = hub.on_events(batches.append)
        written = [await write_event(pg, parent) for _ in range(3)]
        await eventually(lambda: sum(map(len, batches)) == 3)
        unhook()
    assert [row.cursor for batch in batches for row in batch] == written


async def test_dropped_subscription_unregisters(hub: EventHub) -> None:
    hub.subscribe()
    gc.collect()
    assert hub.subscriber_count == 0
    events = hub.subscribe()
    assert hub.subscriber_count == 1
    await events.aclose()
    assert hub.subscriber_count == 0


async def test_two_processes_each_receive_everything(
    engine: AsyncEngine, db_url: str, pg: asyncpg.Connection, parent: Parent
) -> None:
    async with (
        make_broadcast(db_url) as bc1,
        make_broadcast(db_url) as bc2,
        EventHub(engine, bc1) as hub1,
        EventHub(make_sessionmaker(engine), bc2) as hub2,
    ):
        live = [Collector(hub1.subscribe()), Collector(hub2.subscribe())]
        await asyncio.sleep(0.05)
        written = await _write_concurrently(db_url, parent, 200)
        for sub in live:
            assert_stream(await sub.wait_for(written), written)
            await sub.close()
        assert hub1.stats.wakeups > 0 and hub2.stats.wakeups > 0


async def test_slow_consumer_overflows_then_catches_up_from_the_table(
    engine: AsyncEngine, broadcast: Broadcast, db_url: str, parent: Parent
) -> None:
    async with EventHub(engine, broadcast, max_queue=10, page_size=50) as hub:
        slow = Collector(hub.subscribe(), delay=0.005)
        fast = Collector(hub.subscribe())
        await asyncio.sleep(0.05)
        written = await _write_concurrently(db_url, parent, 300)
        for sub in (fast, slow):
            assert_stream(await sub.wait_for(written), written)
            await sub.close()
        assert hub.stats.overflows > 0


async def test_filter_and_async_accept(hub: EventHub, pg: asyncpg.Connection, parent: Parent) -> None:
    other = await make_parent(pg, "C-2")

    async def not_escalated(row: EventRow) -> bool:
        await asyncio.sleep(0)
        return row.kind != "ESCALATED"

    events = hub.subscribe(
        after=STREAM_START,
        filter=EventFilter(customer_ids=frozenset({parent.customer_id})),
        accept=not_escalated,
    )
    old = await write_event(pg, parent, "CREATED")
    await write_event(pg, other, "CREATED")
    await write_event(pg, parent, "ESCALATED")
    last = await write_event(pg, parent, "COMMENTED")
    received = await collect(events, lambda got: got[-1].cursor == last)
    assert [row.cursor for row in received] == [old, last]


async def test_held_back_events_arrive_without_another_notify(
    hub: EventHub, db_url: str, pg: asyncpg.Connection, parent: Parent
) -> None:
    """A long transaction that writes no events holds xmin back and never notifies:
    the hub's delayed re-check delivers once it ends."""
    blocker = await asyncpg.connect(db_url)
    try:
        tx = blocker.transaction()
        await tx.start()
        await blocker.execute("UPDATE customers SET name = 'busy' WHERE id = $1", parent.customer_id)
        events = hub.subscribe()
        first = asyncio.create_task(anext(events))  # type: ignore[arg-type]
        await asyncio.sleep(0.1)
        written = await write_event(pg, parent)
        await asyncio.sleep(0.3)
        assert not first.done()  # held back while the older transaction runs
        await tx.commit()
        assert (await asyncio.wait_for(first, 5)).cursor == written
    finally:
        await blocker.close()


async def test_on_events_sees_every_batch(hub: EventHub, pg: asyncpg.Connection, parent: Parent) -> None:
    seen: list[Cursor] = []
    done = asyncio.Event()
    written: list[Cursor] = []

    def callback(rows: Sequence[EventRow]) -> None:
        seen.extend(row.cursor for row in rows)
        if len(seen) >= 5:
            done.set()

    unregister = hub.on_events(callback)
    written = [await write_event(pg, parent) for _ in range(5)]
    await asyncio.wait_for(done.wait(), 10)
    unregister()
    assert seen == written


async def test_stop_ends_subscriptions(engine: AsyncEngine, broadcast: Broadcast) -> None:
    hub = EventHub(engine, broadcast)
    await hub.start()
    events = hub.subscribe()
    pending = asyncio.create_task(anext(events, None))
    await asyncio.sleep(0.05)
    await hub.stop()
    assert await asyncio.wait_for(pending, 5) is None
    assert hub.subscriber_count == 0


async def test_idle_subscriber_costs_little_memory(hub: EventHub) -> None:
    async def idle() -> None:
        async for _ in hub.subscribe():
            pass

    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tasks = [asyncio.create_task(idle()) for _ in range(200)]
        await eventually(lambda: hub.subscriber_count == 200)
        await asyncio.sleep(0.1)
        gc.collect()
        per_subscriber = (tracemalloc.get_traced_memory()[0] - base) / 200
    finally:
        tracemalloc.stop()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert per_subscriber < 10_000, per_subscriber
