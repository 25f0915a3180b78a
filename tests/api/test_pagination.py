"""Keyset connections: both directions over every ordering, ties, NULLs, concurrent inserts, bad input."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from auth.principal import Principal
from domain.enums import Priority
from records.rows import RequestRow
from tests.api.conftest import NOW, Run, World
from tests.support.builders import Builder, gid

PAGE = """
query($first: Int, $after: String, $last: Int, $before: String, $order: ServiceRequestOrder) {
  serviceRequests(first: $first, after: $after, last: $last, before: $before, orderBy: $order) {
    totalCount
    edges { cursor node { id } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


async def _many(b: Builder, world: World) -> list[RequestRow]:
    """11 requests with ties on every key (same created_at, priority, due) and NULL impacts."""
    rows = []
    for i in range(11):
        created = NOW - timedelta(hours=i // 3)  # groups of 3 share created_at
        rows.append(
            await b.request(
                customer=world.a,
                priority=["LOW", "HIGH", "URGENT"][i % 3],
                created_at=created,
                updated_at=NOW - timedelta(minutes=i % 4),
                financial_impact=None if i % 4 == 0 else str(100 * (i % 3) + 1),
                resolution_due_at=NOW + timedelta(days=i % 2),
            )
        )
    return rows


def _sort_key(field: str, row: RequestRow) -> Any:
    return {
        "CREATED_AT": row.created_at,
        "UPDATED_AT": row.updated_at,
        "PRIORITY": Priority(row.priority).rank,
        "RESOLUTION_DUE_AT": row.resolution_due_at,
        # NULL sorts as the greatest value (last ascending, first descending).
        "FINANCIAL_IMPACT": (row.financial_impact_amount is None, row.financial_impact_amount or Decimal(0)),
    }[field]


def _expected(rows: list[RequestRow], field: str, desc: bool) -> list[str]:
    ordered = sorted(rows, key=lambda r: (_sort_key(field, r), r.id), reverse=desc)
    return [gid(r) for r in ordered]


async def _walk_forward(run: Run, p: Principal, order: dict[str, str], size: int) -> list[str]:
    seen: list[str] = []
    after = None
    for _ in range(50):  # bounded: a broken cursor must fail, not loop
        result = await run(PAGE, p, first=size, after=after, order=order)
        assert result.errors == [], result.errors
        conn = result.data["serviceRequests"]
        seen += [e["node"]["id"] for e in conn["edges"]]
        assert conn["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not conn["pageInfo"]["hasNextPage"]:
            return seen
        after = conn["pageInfo"]["endCursor"]
    raise AssertionError("pagination did not end")


async def _walk_backward(run: Run, p: Principal, order: dict[str, str], size: int) -> list[str]:
    seen: list[str] = []
    before = None
    for _ in range(50):  # bounded: a broken cursor must fail, not loop
        result = await run(PAGE, p, last=size, before=before, order=order)
        assert result.errors == [], result.errors
        conn = result.data["serviceRequests"]
        seen = [e["node"]["id"] for e in conn["edges"]] + seen
        assert conn["pageInfo"]["hasNextPage"] is (before is not None)
        if not conn["pageInfo"]["hasPreviousPage"]:
            return seen
        before = conn["pageInfo"]["startCursor"]
    raise AssertionError("pagination did not end")


@pytest.mark.parametrize(
    "field", ["CREATED_AT", "UPDATED_AT", "PRIORITY", "RESOLUTION_DUE_AT", "FINANCIAL_IMPACT"]
)
@pytest.mark.parametrize("direction", ["ASC", "DESC"])
async def test_every_ordering_pages_both_ways_exactly_once(
    run: Run, world: World, b: Builder, field: str, direction: str
) -> None:
    rows = await _many(b, world)
    p = world.customer_a()  # world.sr_b is out of scope; world.sr_a is in
    expected = _expected([*rows, world.sr_a], field, direction == "DESC")
    order = {"field": field, "direction": direction}
    for size in (1, 4, 12):
        assert await _walk_forward(run, p, order, size) == expected
        assert await _walk_backward(run, p, order, size) == expected


async def test_default_order_is_newest_first_and_20(run: Run, world: World, b: Builder) -> None:
    for i in range(25):
        await b.request(customer=world.a, created_at=NOW - timedelta(minutes=i + 1))
    result = await run(
        "{ serviceRequests { totalCount edges { node { createdAt } } pageInfo { hasNextPage } } }",
        world.agent_p(),
    )
    conn = result.data["serviceRequests"]
    assert conn["totalCount"] == 27 and len(conn["edges"]) == 20 and conn["pageInfo"]["hasNextPage"]
    created = [e["node"]["createdAt"] for e in conn["edges"]]
    assert created == sorted(created, reverse=True)


async def test_pages_are_stable_under_concurrent_inserts(run: Run, world: World, b: Builder) -> None:
    rows = await _many(b, world)
    p = world.customer_a()
    order = {"field": "CREATED_AT", "direction": "DESC"}
    expected = _expected([*rows, world.sr_a], "CREATED_AT", True)
    by_gid = {gid(r): r for r in [*rows, world.sr_a]}
    seen: list[str] = []
    after = None
    for _ in range(50):  # bounded: a broken cursor must fail, not loop
        result = await run(PAGE, p, first=3, after=after, order=order)
        conn = result.data["serviceRequests"]
        seen += [e["node"]["id"] for e in conn["edges"]]
        # Between page fetches a newer request lands at the top, and one ties the last row's
        # created_at with a higher id (so it sorts before the cursor): neither may show up.
        await b.request(customer=world.a, created_at=NOW + timedelta(seconds=len(seen)))
        await b.request(customer=world.a, created_at=by_gid[seen[-1]].created_at)
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert seen == expected


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ("first: 101", "BAD_USER_INPUT"),
        ("first: 0", "BAD_USER_INPUT"),
        ("first: -1", "BAD_USER_INPUT"),
        ("last: 101", "BAD_USER_INPUT"),
        ('after: "garbage"', "BAD_USER_INPUT"),
        ('before: "Zm9vOmJhcg=="', "BAD_USER_INPUT"),
    ],
)
async def test_malformed_page_arguments(run: Run, world: World, args: str, code: str) -> None:
    result = await run(f"{{ serviceRequests({args}) {{ totalCount }} }}", world.agent_p())
    assert result.codes == [code]
    assert result.data is None


async def test_cursor_is_bound_to_its_ordering(run: Run, world: World) -> None:
    p = world.agent_p()
    first = await run(PAGE, p, first=1, order={"field": "PRIORITY", "direction": "ASC"})
    cursor = first.data["serviceRequests"]["pageInfo"]["endCursor"]
    other = await run(PAGE, p, first=1, after=cursor, order={"field": "CREATED_AT", "direction": "ASC"})
    assert other.codes == ["BAD_USER_INPUT"]
    flipped = await run(PAGE, p, first=1, after=cursor, order={"field": "PRIORITY", "direction": "DESC"})
    assert flipped.codes == ["BAD_USER_INPUT"]
    # Another connection's cursor (customers) is refused too.
    customers = await run("{ customers(first: 1) { pageInfo { endCursor } } }", p)
    foreign = customers.data["customers"]["pageInfo"]["endCursor"]
    assert (await run(PAGE, p, first=1, after=foreign)).codes == ["BAD_USER_INPUT"]


async def test_other_connections_page_both_ways(run: Run, world: World, b: Builder) -> None:
    for i in range(5):
        await b.customer(name=f"Zeta {i}")
        await b.invoice(customer=world.a, issued_on=NOW.date() - timedelta(days=i % 2))
        await b.payment(customer=world.a, received_at=NOW - timedelta(days=i % 2))
    p = world.agent_p()
    for field, query in (
        (
            "customers",
            "query($f: Int, $a: String, $l: Int, $b: String) "
            "{ customers(first: $f, after: $a, last: $l, before: $b) %s }",
        ),
        (
            "invoices",
            "query($f: Int, $a: String, $l: Int, $b: String) "
            "{ invoices(first: $f, after: $a, last: $l, before: $b) %s }",
        ),
    ):
        body = "{ totalCount nodes { id } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } }"
        full = (await run(query % body, p, f=100)).data[field]
        everything = [n["id"] for n in full["nodes"]]
        assert len(everything) == full["totalCount"] >= 5
        forward: list[str] = []
        after = None
        for _ in range(50):  # bounded: a broken cursor must fail, not loop
            conn = (await run(query % body, p, f=2, a=after)).data[field]
            forward += [n["id"] for n in conn["nodes"]]
            if not conn["pageInfo"]["hasNextPage"]:
                break
            after = conn["pageInfo"]["endCursor"]
        backward: list[str] = []
        before = None
        for _ in range(50):  # bounded: a broken cursor must fail, not loop
            conn = (await run(query % body, p, l=2, b=before)).data[field]
            backward = [n["id"] for n in conn["nodes"]] + backward
            if not conn["pageInfo"]["hasPreviousPage"]:
                break
            before = conn["pageInfo"]["startCursor"]
        assert forward == everything == backward, field
