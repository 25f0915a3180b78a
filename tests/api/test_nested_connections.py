"""Nested connections over a page of parents: one batch per connection (not one query per parent),
each parent's page exactly as if it had been asked for alone."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.conftest import Run, World
from tests.api.test_sql_count import statements
from tests.support.builders import Builder, gid

NESTED = """
query($n: Int!) {
  customers(first: $n) {
    nodes {
      id
      invoices(first: 2) { totalCount pageInfo { hasNextPage } nodes { number } }
      payments(first: 2) { totalCount nodes { reference } }
      serviceRequests(first: 2) {
        totalCount
        nodes {
          number
          comments(first: 2) { totalCount nodes { body } }
          events(first: 3) { totalCount nodes { kind } }
        }
      }
    }
  }
}
"""

ONE = """
query($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
  node(id: $id) {
    ... on Customer {
      invoices(first: $first, after: $after, last: $last, before: $before) {
        totalCount
        pageInfo { hasNextPage hasPreviousPage endCursor startCursor }
        nodes { number }
      }
    }
  }
}
"""


async def _data(b: Builder, world: World, customers: int) -> list[tuple[str, list[str]]]:
    """Customers with 0..4 invoices each (numbers newest first), payments and requests."""
    made = []
    for i in range(customers):
        customer = await b.customer()
        numbers = []
        for k in range(i % 5):
            invoice = await b.invoice(
                customer=customer, number=f"INV-{i}-{k}", issued_on=date(2026, 11, 1) - timedelta(days=k)
            )
            numbers.append(invoice.number)
            await b.payment(customer=customer, invoice=invoice, reference=f"PAY-{i}-{k}")
            request = await b.request(customer=customer, invoice=invoice, team=world.team)
            for c in range(k):
                comment = await b.comment(request=request, body=f"c{c}")
                await b.event(request=request, kind="COMMENTED", comment=comment)
        made.append((gid(customer), numbers))  # issued newest first: k = 0 first
    return made


async def test_nested_connections_cost_the_same_statements_for_3_or_30_parents(
    run: Run, world: World, b: Builder, engine: AsyncEngine
) -> None:
    await _data(b, world, 30)
    counts = {}
    for n in (3, 30):
        with statements(engine) as seen:
            result = await run(NESTED, world.supervisor_p(), n=n)
        assert result.errors == [], result.errors
        assert len(result.data["customers"]["nodes"]) == n
        counts[n] = len(seen)
    assert counts[3] == counts[30], counts
    # customers page, then per nested connection one page batch and one count batch.
    assert counts[30] <= 12, counts


async def test_each_parents_page_is_its_own(run: Run, world: World, b: Builder) -> None:
    made = dict(await _data(b, world, 12))
    result = await run(NESTED, world.supervisor_p(), n=100)
    assert result.errors == [], result.errors
    seen = 0
    for node in result.data["customers"]["nodes"]:
        if node["id"] not in made:
            continue  # the world's own customers
        seen += 1
        numbers = made[node["id"]]
        invoices = node["invoices"]
        assert [i["number"] for i in invoices["nodes"]] == numbers[:2]
        assert invoices["totalCount"] == len(numbers)
        assert invoices["pageInfo"]["hasNextPage"] == (len(numbers) > 2)
        assert node["payments"]["totalCount"] == len(numbers)
        requests = node["serviceRequests"]
        assert requests["totalCount"] == len(numbers)
        for request in requests["nodes"]:
            comments = request["comments"]
            assert comments["totalCount"] == len(comments["nodes"]) or comments["totalCount"] > 2
            assert request["events"]["totalCount"] == comments["totalCount"]
    assert seen == 12


async def test_nested_pages_walk_both_ways(run: Run, world: World, b: Builder) -> None:
    made = await _data(b, world, 5)
    customer, numbers = made[4]  # four invoices
    assert len(numbers) == 4

    async def page(**args: Any) -> dict[str, Any]:
        result = await run(ONE, world.supervisor_p(), id=customer, **args)
        assert result.errors == [], result.errors
        invoices: dict[str, Any] = result.data["node"]["invoices"]
        return invoices

    first = await page(first=3)
    assert [i["number"] for i in first["nodes"]] == numbers[:3]
    assert (first["pageInfo"]["hasNextPage"], first["pageInfo"]["hasPreviousPage"]) == (True, False)
    rest = await page(first=3, after=first["pageInfo"]["endCursor"])
    assert [i["number"] for i in rest["nodes"]] == numbers[3:]
    assert (rest["pageInfo"]["hasNextPage"], rest["pageInfo"]["hasPreviousPage"]) == (False, True)
    back = await page(last=2, before=rest["pageInfo"]["startCursor"])
    assert [i["number"] for i in back["nodes"]] == numbers[1:3]
    assert (back["pageInfo"]["hasNextPage"], back["pageInfo"]["hasPreviousPage"]) == (True, True)
    tail = await page(last=2)
    assert [i["number"] for i in tail["nodes"]] == numbers[2:]
    assert tail["totalCount"] == 4
