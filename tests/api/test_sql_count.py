"""The number of SQL statements per operation is fixed: DataLoaders batch every relation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
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
