"""A mutation that loses a deadlock is run again, transparently, and takes effect exactly once."""

from __future__ import annotations

import asyncio

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.conftest import Run, World
from tests.support.builders import gid

ADD_COMMENT = """
mutation($id: ID!) {
  addComment(input: {serviceRequestId: $id, body: "after the deadlock", visibility: INTERNAL}) {
    comment { body }
    userErrors { code }
  }
}
"""


async def _waiting_on_a_lock(conn: asyncpg.Connection) -> None:
    """Until another backend of this database waits for a lock."""
    for _ in range(500):
        waiting = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
        )
        if waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the mutation never waited for the audit head")


async def test_a_mutation_that_loses_a_deadlock_is_retried(
    run: Run, world: World, engine: AsyncEngine, db_url: str
) -> None:
    # Another transaction (as the SLA engine's batch would) holds the audit head, then wants the
    # request the mutation has locked: the two wait on each other. The mutation waited first, so
    # its deadlock check (deadlock_timeout, 1 s) finds the cycle and PostgreSQL ends it (40P01).
    other = await asyncpg.connect(db_url)
    try:
        async with other.transaction():
            await other.execute("SET LOCAL deadlock_timeout = '60s'")
            await other.execute("SELECT 1 FROM audit_head FOR UPDATE")
            mutation = asyncio.create_task(run(ADD_COMMENT, world.supervisor_p(), id=gid(world.sr_a)))
            await _waiting_on_a_lock(other)  # the mutation holds the request, waits at COMMIT
            await other.execute("SELECT 1 FROM service_requests WHERE id = $1 FOR UPDATE", world.sr_a.id)
            # PostgreSQL broke the cycle by ending the mutation's transaction: this one got the row.
        result = await asyncio.wait_for(mutation, 30)
    finally:
        await other.close()
    assert result.errors == []
    assert result.data["addComment"] == {"comment": {"body": "after the deadlock"}, "userErrors": []}
    async with engine.connect() as conn:
        stored = await conn.scalar(text("SELECT count(*) FROM comments WHERE body = 'after the deadlock'"))
        events = await conn.scalar(
            text("SELECT count(*) FROM request_events WHERE request_id = :r AND kind = 'COMMENTED'"),
            {"r": world.sr_a.id},
        )
    assert (stored, events) == (1, 1)
