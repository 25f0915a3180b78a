"""The number of SQL statements per operation is fixed: DataLoaders batch every relation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.conftest import Run, World
from tests.support.builders import Builder, gid

LIST = """
query($n: Int!) {
  serviceRequests(first: $n) {
    nodes {
      number
      customer { name }
      invoice { number }
      assignee { name }
      team { name }
      sla { state remainingSeconds policy { name } }
      approvals { id status }
    }
  }
}
"""


@contextmanager
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def _requests(b: Builder, world: World, n: int) -> None:
    agents = [world.agent, world.supervisor, await b.staff()]
    for i in range(n):
        customer = await b.customer() if i % 3 == 0 else world.a
        invoice = await b.invoice(customer=customer)
        sr = await b.request(customer=customer, invoice=invoice, team=world.team, assignee=agents[i % 3])
        if i % 2:
            await b.approval(request=sr, requested_by=world.agent)


async def test_statement_count_does_not_grow_with_the_page(
    run: Run, world: World, b: Builder, engine: AsyncEngine
) -> None:
    await _requests(b, world, 100)
    counts = {}
    for n in (10, 100):
        with statements(engine) as seen:
            result = await run(LIST, world.supervisor_p(), n=n)
        assert result.errors == []
        assert len(result.data["serviceRequests"]["nodes"]) == n
        counts[n] = len(seen)
    assert counts[10] == counts[100], counts
    assert counts[100] <= 6, counts


async def test_nodes_costs_one_statement_per_type(run: Run, world: World, engine: AsyncEngine) -> None:
    ids = [gid(world.sr_a), gid(world.sr_b), gid(world.inv_a), gid(world.inv_b), gid(world.a)]
    with statements(engine) as seen:
        result = await run("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", world.agent_p(), ids=ids)
    assert [n["id"] for n in result.data["nodes"]] == ids
    assert len(seen) == 3, seen


REQUEST_INFO = """
mutation($input: TransitionServiceRequestInput!) {
  requestCustomerInfo(input: $input) { serviceRequest { version status } userErrors { code } }
}
"""


async def test_a_transition_with_a_message_writes_it_with_the_request(
    run: Run, world: World, b: Builder, engine: AsyncEngine
) -> None:
    """Lock, context, the request's UPDATE with the comment's INSERT, the outbox: four statements;
    the comment's audit entry and COMMENTED event name the comment that statement wrote."""
    sr = await b.request(customer=world.a, status="IN_PROGRESS", team=world.team, assignee=world.agent)
    variables = {"id": gid(sr), "expectedVersion": sr.version, "message": "Which PO?"}
    with statements(engine) as seen:
        result = await run(REQUEST_INFO, world.supervisor_p(), input=variables)
    assert result.errors == []
    assert result.data["requestCustomerInfo"]["serviceRequest"]["status"] == "WAITING_ON_CUSTOMER"
    assert len(seen) == 4, seen
    assert "INSERT INTO comments" in seen[2] and "UPDATE service_requests" in seen[2]
    async with engine.connect() as conn:
        comment_id = (
            await conn.execute(
                text("SELECT id FROM comments WHERE request_id = :r AND body = 'Which PO?'"), {"r": sr.id}
            )
        ).scalar_one()
        events = (
            await conn.execute(
                text("SELECT kind, comment_id FROM request_events WHERE request_id = :r ORDER BY id"),
                {"r": sr.id},
            )
        ).all()
        audit = (
            await conn.execute(
                text(
                    "SELECT action, entity_type, entity_id, after FROM audit_entries "
                    "WHERE actor_subject = :s ORDER BY sequence"
                ),
                {"s": world.supervisor.email},
            )
        ).all()
    assert [tuple(e) for e in events][-2:] == [("STATUS_CHANGED", None), ("COMMENTED", comment_id)]
    assert [(a.action, a.entity_type, a.entity_id) for a in audit][-2:] == [
        ("COMMENT", "Comment", str(comment_id)),
        ("REQUEST_CUSTOMER_INFO", "ServiceRequest", str(sr.id)),
    ]
    assert audit[-2].after == {"requestId": sr.id, "visibility": "PUBLIC", "body": "Which PO?"}
