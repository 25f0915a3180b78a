"""`availableTransitions` and the mutations apply the same, stored business rules."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.conftest import NOW, Run, World
from tests.support.builders import Builder, gid

TRANSITIONS = (
    "query($id: ID!) { node(id: $id) { ... on ServiceRequest { availableTransitions { action } } } }"
)
REOPEN = """
mutation($id: ID!, $version: Int!) {
  reopenServiceRequest(input: {id: $id, expectedVersion: $version, message: "still wrong"}) {
    serviceRequest { status }
    userErrors { code }
  }
}
"""


async def _reopen_window(engine: AsyncEngine, days: int) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE business_rules"
                " SET rules = jsonb_set(rules, '{reopen_window_days}', to_jsonb(CAST(:d AS integer)))"
                " WHERE name = 'lifecycle'"
            ),
            {"d": days},
        )


async def test_a_longer_stored_reopen_window_is_offered_and_honoured(
    run: Run, world: World, b: Builder, engine: AsyncEngine
) -> None:
    await _reopen_window(engine, 30)
    resolved = await b.request(
        customer=world.a,
        status="RESOLVED",
        assignee=world.agent,
        resolution_code="INFORMATION_PROVIDED",
        resolution_summary="Explained the fee.",
        resolved_at=NOW - timedelta(days=20),
    )
    listed = await run(TRANSITIONS, world.customer_a(), id=gid(resolved))
    assert listed.errors == []
    assert "REOPEN" in {t["action"] for t in listed.data["node"]["availableTransitions"]}
    done = await run(REOPEN, world.customer_a(), id=gid(resolved), version=resolved.version)
    assert done.errors == []
    assert done.data["reopenServiceRequest"] == {
        "serviceRequest": {"status": "IN_PROGRESS"},
        "userErrors": [],
    }


async def test_a_shorter_stored_reopen_window_is_neither_offered_nor_allowed(
    run: Run, world: World, b: Builder, engine: AsyncEngine
) -> None:
    await _reopen_window(engine, 3)
    resolved = await b.request(
        customer=world.a,
        status="RESOLVED",
        assignee=world.agent,
        resolution_code="INFORMATION_PROVIDED",
        resolution_summary="Explained the fee.",
        resolved_at=NOW - timedelta(days=5),
    )
    listed = await run(TRANSITIONS, world.customer_a(), id=gid(resolved))
    assert "REOPEN" not in {t["action"] for t in listed.data["node"]["availableTransitions"]}
    refused = await run(REOPEN, world.customer_a(), id=gid(resolved), version=resolved.version)
    assert refused.data["reopenServiceRequest"]["userErrors"] == [{"code": "INVALID_TRANSITION"}]
