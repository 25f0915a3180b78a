"""Routing (LIFECYCLE.md §5) through createServiceRequest: least loaded, then least recently assigned."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.lifecycle.conftest import START, Api, World, dispute, events_of
from tests.support.builders import Builder


async def _assigned(api: Api, world: World, engine: AsyncEngine) -> tuple[str, dict[str, object]]:
    request = await api.create(**dispute(world, "10.00"))
    assigned = (await events_of(engine, request["id"]))[1]
    assert assigned["kind"] == "ASSIGNED"
    email: str = request["assignee"]["email"]
    return email, assigned["details"]


async def test_fewest_open_requests_wins(api: Api, world: World, engine: AsyncEngine) -> None:
    b = Builder(engine, now=START)
    for _ in range(2):
        await b.request(customer=world.other, assignee=world.ana, team=world.billing, status="IN_PROGRESS")
    await b.request(customer=world.other, assignee=world.ben, team=world.billing, status="IN_PROGRESS")
    # Closed work does not count.
    await b.request(customer=world.other, assignee=world.ben, team=world.billing, status="CLOSED")
    email, details = await _assigned(api, world, engine)
    assert email == "ben@example.com"
    assert details["rule"] == "fewest-open" and details["teamRule"] == "type"
    assert details["assigneeId"] == world.ben.id and details["teamId"] == world.billing.id


async def test_ties_go_to_the_least_recently_assigned_and_the_stamp_moves(
    api: Api, world: World, engine: AsyncEngine
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE staff SET last_assigned_at = :t WHERE id = :i"),
            {"t": START - timedelta(hours=1), "i": world.ana.id},
        )
        await conn.execute(
            text("UPDATE staff SET last_assigned_at = :t WHERE id = :i"),
            {"t": START - timedelta(hours=2), "i": world.ben.id},
        )
    email, details = await _assigned(api, world, engine)
    assert email == "ben@example.com" and details["rule"] == "least-recently-assigned"
    # ben now has one open request: ana is next, by workload.
    email, details = await _assigned(api, world, engine)
    assert email == "ana@example.com" and details["rule"] == "fewest-open"
    async with engine.connect() as conn:
        stamps = (
            (
                await conn.execute(
                    text("SELECT last_assigned_at FROM staff WHERE id IN (:a, :b)"),
                    {"a": world.ana.id, "b": world.ben.id},
                )
            )
            .scalars()
            .all()
        )
    assert all(s == START for s in stamps)


async def test_inactive_and_unskilled_members_are_skipped(
    api: Api, world: World, engine: AsyncEngine
) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE staff SET active = false WHERE id = :i"), {"i": world.ana.id})
        await conn.execute(text("UPDATE staff SET skills = '{}' WHERE id = :i"), {"i": world.ben.id})
    request = await api.create("sup@example.com", **dispute(world, "10.00"))
    assert request["team"]["name"] == "Billing" and request["assignee"] is None
