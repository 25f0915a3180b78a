"""fetch_after: stream order, the xmin rule (no event committed late is ever skipped), filters."""

from __future__ import annotations

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from db.events import current_head, fetch_after
from records.events import STREAM_START, Cursor

from .conftest import Parent, insert_event, make_parent, write_event


async def _fetch(engine: AsyncEngine, after: Cursor | None, **filters: object) -> list[Cursor]:
    async with engine.connect() as conn:
        batch = await fetch_after(conn, after=after, limit=100, **filters)  # type: ignore[arg-type]
    return [row.cursor for row in batch]


async def test_rows_come_back_whole_and_in_order(
    engine: AsyncEngine, pg: asyncpg.Connection, parent: Parent
) -> None:
    written = [await write_event(pg, parent, kind) for kind in ("CREATED", "TRIAGED", "ASSIGNED")]
    async with engine.connect() as conn:
        batch = await fetch_after(conn, after=None, limit=10)
        page = await fetch_after(conn, after=written[0], limit=1)
    assert [row.cursor for row in batch] == written
    assert [row.kind for row in batch] == ["CREATED", "TRIAGED", "ASSIGNED"]
    first = batch[0]
    assert (first.request_id, first.customer_id, first.actor_name) == (
        parent.request_id,
        parent.customer_id,
        "Test",
    )
    assert first.details == {} and first.occurred_at.tzinfo is not None
    assert not batch.held_back
    assert [row.cursor for row in page] == [written[1]]


async def test_late_commit_with_lower_id_is_held_back_not_skipped(
    engine: AsyncEngine, db_url: str, parent: Parent
) -> None:
    a = await asyncpg.connect(db_url)
    b = await asyncpg.connect(db_url)
    try:
        tx_a = a.transaction()
        await tx_a.start()
        event_a = await insert_event(a, parent)  # lower id, still uncommitted
        event_b = await write_event(b, parent)  # higher id, committed first
        assert event_a.id < event_b.id and event_a.txid < event_b.txid

        # B is committed but A could still commit before it: nothing is deliverable yet.
        async with engine.connect() as conn:
            batch = await fetch_after(conn, after=None, limit=100)
        assert list(batch) == [] and batch.held_back

        await tx_a.commit()
        assert await _fetch(engine, None) == [event_a, event_b]
    finally:
        await a.close()
        await b.close()


async def test_consumer_past_a_later_id_still_gets_an_earlier_transactions_event(
    engine: AsyncEngine, db_url: str, parent: Parent
) -> None:
    """B takes its txid first, A inserts first (lower id), B commits first: B is
    delivered, and A's event, committed afterwards, still follows B's cursor."""
    a = await asyncpg.connect(db_url)
    b = await asyncpg.connect(db_url)
    try:
        tx_b = b.transaction()
        await tx_b.start()
        await b.fetchval("SELECT pg_current_xact_id()")  # B's txid is now the older one
        tx_a = a.transaction()
        await tx_a.start()
        event_a = await insert_event(a, parent)
        event_b = await insert_event(b, parent)
        await tx_b.commit()
        assert event_a.id < event_b.id and event_b.txid < event_a.txid

        seen = await _fetch(engine, None)
        assert seen == [event_b]  # an id cursor would now be past A's event for good

        await tx_a.commit()
        assert await _fetch(engine, seen[-1]) == [event_a]
    finally:
        await a.close()
        await b.close()


async def test_transaction_without_events_holds_back_until_it_ends(
    engine: AsyncEngine, db_url: str, parent: Parent
) -> None:
    other = await asyncpg.connect(db_url)
    writer = await asyncpg.connect(db_url)
    try:
        tx = other.transaction()
        await tx.start()
        await other.execute("UPDATE customers SET name = 'x' WHERE id = $1", parent.customer_id)
        written = await write_event(writer, parent)
        async with engine.connect() as conn:
            held = await fetch_after(conn, after=None, limit=10)
            head = await current_head(conn)
        assert list(held) == [] and held.held_back
        assert head <= written  # the head never passes an event that may still be delivered
        await tx.rollback()
        assert await _fetch(engine, None) == [written]
        assert await _fetch(engine, head) == [written]
    finally:
        await other.close()
        await writer.close()


async def test_head_is_after_everything_delivered(
    engine: AsyncEngine, pg: asyncpg.Connection, parent: Parent
) -> None:
    old = await write_event(pg, parent)
    async with engine.connect() as conn:
        head = await current_head(conn)
    new = await write_event(pg, parent)
    assert old < head < new
    assert await _fetch(engine, head) == [new]


async def test_filters(engine: AsyncEngine, pg: asyncpg.Connection, parent: Parent) -> None:
    other = await make_parent(pg, "C-2")
    await pg.execute("INSERT INTO teams (name) VALUES ('Billing')")
    team_id = await pg.fetchval("SELECT id FROM teams")
    e1 = await write_event(pg, parent, "CREATED")
    e2 = await write_event(pg, other, "CREATED")
    e3 = await write_event(pg, parent, "COMMENTED")
    await pg.execute("UPDATE request_events SET team_id = $1 WHERE id = $2", team_id, e2.id)

    assert await _fetch(engine, STREAM_START, kinds=["CREATED"]) == [e1, e2]
    assert await _fetch(engine, STREAM_START, request_id=parent.request_id) == [e1, e3]
    assert await _fetch(engine, STREAM_START, customer_ids=frozenset({other.customer_id})) == [e2]
    assert await _fetch(engine, STREAM_START, customer_ids=frozenset()) == []
    assert await _fetch(engine, STREAM_START, team_id=team_id) == [e2]
    assert await _fetch(engine, e1, kinds=["CREATED", "COMMENTED"], request_id=parent.request_id) == [e3]
