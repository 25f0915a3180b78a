"""Sla fields at a fixed clock, and the slaState filter agreeing with them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.conftest import NOW, Run, World
from tests.support.builders import Builder, gid

SLA = """
query($ids: [ID!]!) { nodes(ids: $ids) { id ... on ServiceRequest {
  sla { state remainingSeconds pausedSeconds breachedAt firstResponseDueAt resolutionDueAt
        policy { tier priority firstResponseMinutes resolutionMinutes calendar { name } } } } } }
"""

H = timedelta(hours=1)


async def _cases(b: Builder, world: World) -> dict[str, object]:
    # ENTERPRISE MEDIUM: 24x7, first response 240 min, resolution 1,440 min.
    policy = await b.policy(tier="ENTERPRISE", priority="MEDIUM")
    c = world.a
    return {
        "on_track": await b.request(customer=c, policy=policy, created_at=NOW - H),
        "at_risk": await b.request(customer=c, policy=policy, created_at=NOW - 3.5 * H),
        "breached": await b.request(customer=c, policy=policy, created_at=NOW - 5 * H),
        "paused": await b.request(
            customer=c,
            policy=policy,
            status="WAITING_ON_CUSTOMER",
            created_at=NOW - 2 * H,
            first_responded_at=NOW - 1.5 * H,
            paused_at=NOW - 0.5 * H,
            paused_seconds=600,
        ),
        "met": await b.request(
            customer=c,
            policy=policy,
            status="RESOLVED",
            created_at=NOW - 3 * H,
            first_responded_at=NOW - 2.5 * H,
            resolved_at=NOW - 2 * H,
        ),
        "resolved_late": await b.request(
            customer=c,
            policy=policy,
            status="CLOSED",
            created_at=NOW - 30 * H,
            first_responded_at=NOW - 29 * H,
            resolved_at=NOW - 2 * H,
        ),
        "stored_breach": await b.request(
            customer=c,
            policy=policy,
            created_at=NOW - H,
            first_response_breached_at=NOW - 0.25 * H,
        ),
    }


async def test_sla_fields_at_a_fixed_clock(run: Run, world: World, b: Builder) -> None:
    cases = await _cases(b, world)
    result = await run(SLA, world.agent_p(), ids=[gid(r) for r in cases.values()])  # type: ignore[arg-type]
    assert result.errors == []
    sla = {name: node["sla"] for name, node in zip(cases, result.data["nodes"], strict=True)}
    assert sla["on_track"]["state"] == "ON_TRACK"
    assert sla["on_track"]["remainingSeconds"] == 3 * 3600  # first response due in 3 h
    assert sla["on_track"]["policy"] == {
        "tier": "ENTERPRISE",
        "priority": "MEDIUM",
        "firstResponseMinutes": 240,
        "resolutionMinutes": 1440,
        "calendar": None,
    }
    assert sla["at_risk"]["state"] == "AT_RISK" and sla["at_risk"]["remainingSeconds"] == 1800
    assert sla["breached"]["state"] == "BREACHED" and sla["breached"]["remainingSeconds"] == -3600
    assert sla["breached"]["breachedAt"] == "2026-11-23T11:00:00Z"
    assert sla["paused"]["state"] == "PAUSED" and sla["paused"]["remainingSeconds"] is None
    assert sla["paused"]["pausedSeconds"] == 600 + 1800  # stored plus the running pause
    assert sla["met"]["state"] == "MET" and sla["met"]["remainingSeconds"] is None
    assert sla["met"]["breachedAt"] is None
    assert sla["resolved_late"]["state"] == "BREACHED"
    assert sla["resolved_late"]["breachedAt"] == "2026-11-23T06:00:00Z"  # the resolution due time
    assert sla["stored_breach"]["state"] == "BREACHED"
    assert sla["stored_breach"]["breachedAt"] == "2026-11-23T11:45:00Z"


async def test_remaining_seconds_follow_the_clock(run: Run, world: World, b: Builder) -> None:
    cases = await _cases(b, world)
    later = await run(SLA, world.agent_p(), clock=lambda: NOW + 0.5 * H, ids=[gid(cases["on_track"])])  # type: ignore[arg-type]
    assert later.data["nodes"][0]["sla"]["remainingSeconds"] == int(2.5 * 3600)


async def test_sla_state_filter_agrees_with_the_field(run: Run, world: World, b: Builder) -> None:
    cases = await _cases(b, world)
    # A business-hours request too (STANDARD MEDIUM, due times from the builder's wall clock).
    await b.request(customer=world.a, created_at=NOW - timedelta(minutes=5))
    p = world.customer_a()
    everything = await run("{ serviceRequests(first: 100) { nodes { id sla { state } } } }", p)
    state_of = {n["id"]: n["sla"]["state"] for n in everything.data["serviceRequests"]["nodes"]}
    assert state_of[gid(cases["at_risk"])] == "AT_RISK"  # type: ignore[arg-type]
    for state in ("ON_TRACK", "AT_RISK", "BREACHED", "PAUSED", "MET"):
        result = await run(
            "query($s: [SlaState!]) "
            "{ serviceRequests(first: 100, filter: {slaState: $s}) { totalCount nodes { id } } }",
            p,
            s=[state],
        )
        got = {n["id"] for n in result.data["serviceRequests"]["nodes"]}
        assert got == {i for i, s in state_of.items() if s == state}, state
        assert result.data["serviceRequests"]["totalCount"] == len(got)


async def test_policy_minutes_are_whole_minutes_rounded_up(
    run: Run, world: World, b: Builder, engine: AsyncEngine
) -> None:
    """IMPORT.md: targets given in seconds (PT10S, PT90S) show as whole minutes rounded up."""
    policy = await b.policy(tier="ENTERPRISE", priority="MEDIUM")
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE sla_policies SET first_response_seconds = 10, resolution_seconds = 90 WHERE id = :id"
            ),
            {"id": policy.id},
        )
    query = (
        "query($id: ID!) { node(id: $id) { ... on SlaPolicy { firstResponseMinutes resolutionMinutes } } }"
    )
    result = await run(query, world.agent_p(), id=gid(policy))
    assert result.errors == []
    assert result.data["node"] == {"firstResponseMinutes": 1, "resolutionMinutes": 2}
