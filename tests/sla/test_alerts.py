"""SLA alerts emitted by the engines of two real servers at once: on time, exactly once, escalating
on a resolution breach; paused requests get none and resumed ones get them at the shifted time."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.sla import at_risk_instant
from schema import ids
from tests.sla.conftest import (
    StartServers,
    World,
    dispute,
    events_of,
    import_policies,
    request_row,
    sla_events,
    utcnow,
    wait_for,
)

LATE = timedelta(seconds=1)  # the contract's goal


def _expected(
    row: dict[str, object], first_response: int, resolution: int
) -> dict[tuple[str, str], datetime]:
    """(kind, target) -> the instant the alert falls due, from the stored due times (24x7)."""
    fr_due, res_due = row["first_response_due_at"], row["resolution_due_at"]
    assert isinstance(fr_due, datetime) and isinstance(res_due, datetime)
    return {
        ("SLA_AT_RISK", "FIRST_RESPONSE"): at_risk_instant(
            due_at=fr_due, target_seconds=first_response, calendar=None
        ),
        ("SLA_BREACHED", "FIRST_RESPONSE"): fr_due,
        ("SLA_AT_RISK", "RESOLUTION"): at_risk_instant(
            due_at=res_due, target_seconds=resolution, calendar=None
        ),
        ("SLA_BREACHED", "RESOLUTION"): res_due,
    }


async def _audit_actions(engine: AsyncEngine, request_id: int) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT action FROM audit_entries WHERE entity_type = 'ServiceRequest' AND entity_id = :e "
                "AND actor_subject = 'system' ORDER BY sequence"
            ),
            {"e": str(request_id)},
        )
        return [r.action for r in rows]


async def test_two_engines_alert_once_on_time_and_escalate_on_resolution_breach(
    engine: AsyncEngine, world: World, start_servers: StartServers
) -> None:
    await import_policies(engine, "PT5S", "PT8S")  # at risk after 4 s and 7 s (80%, whole seconds)
    one, two = await start_servers(2)
    created = [await (one if i % 2 else two).api.create(dispute(world)) for i in range(4)]
    pks = [ids.decode(r["id"])[1] for r in created]
    before = {pk: await request_row(engine, pk) for pk in pks}
    assert all(r["priority"] == "MEDIUM" and r["team"]["name"] == "Billing" for r in created)

    async def all_escalated() -> bool:
        for pk in pks:
            if [e["kind"] for e in await events_of(engine, pk)].count("ESCALATED") != 1:
                return False
        return True

    await wait_for(all_escalated, within=8 + 5, what="the resolution breaches")
    await asyncio.sleep(1.5)  # long enough for a duplicate to show up

    for pk in pks:
        expected = _expected(before[pk], 5, 8)
        alerts = await sla_events(engine, pk)
        assert sorted((e["kind"], e["sla_target"]) for e in alerts) == sorted(expected), alerts
        for event in alerts:
            at = expected[event["kind"], event["sla_target"]]
            assert at <= event["occurred_at"] < at + LATE, (event, at)
            assert event["actor_subject"] == "system"
            target = "first_response" if event["sla_target"] == "FIRST_RESPONSE" else "resolution"
            assert event["due_at"] == before[pk][f"{target}_due_at"]
        kinds = [e["kind"] for e in await events_of(engine, pk)]
        # The escalation follows the resolution breach in the same transaction.
        assert kinds[-2:] == ["SLA_BREACHED", "ESCALATED"]
        row = await request_row(engine, pk)
        assert row["escalated"] is True and row["priority"] == "HIGH"
        assert row["team_id"] == world.teams["Finance Escalations"].id and row["assignee_id"] == world.eve.id
        # Escalation does not buy time.
        assert row["first_response_due_at"] == before[pk]["first_response_due_at"]
        assert row["resolution_due_at"] == before[pk]["resolution_due_at"]
        assert row["first_response_breached_at"] == row["first_response_due_at"]
        assert row["resolution_breached_at"] == row["resolution_due_at"]
        assert row["first_response_at_risk_at"] is not None and row["resolution_at_risk_at"] is not None
        assert row["next_sla_check_at"] is None  # nothing left to emit
        assert row["version"] == 1 + 4 + 1  # each alert at its own instant, then ESCALATE
        actions = await _audit_actions(engine, pk)
        assert sorted(a for a in actions if a.startswith("SLA_")) == sorted(k for k, _ in expected)
        assert "ESCALATE" in actions

    engines = [one.sla_engine, two.sla_engine]
    assert all(e.stats.reads > 0 for e in engines)  # both were running and watching
    assert sum(e.stats.alerts for e in engines) == 4 * len(pks)
    assert sum(e.stats.escalations for e in engines) == len(pks)
    lateness = [s for e in engines for s in e.stats.lateness]
    assert lateness and max(lateness) < LATE.total_seconds()


async def test_a_paused_request_gets_no_alerts_and_a_resumed_one_gets_them_shifted(
    engine: AsyncEngine, world: World, start_servers: StartServers
) -> None:
    await import_policies(engine, "PT5S", "PT5S")  # at risk after 4 s, breached after 5 s
    (server,) = await start_servers(1)
    api = server.api
    request = await api.create(dispute(world))
    pk = ids.decode(request["id"])[1]
    original = await request_row(engine, pk)
    request = await api.act("triageServiceRequest", request)
    request = await api.act("startWork", request)
    # The PUBLIC message answers the customer: the first-response target is met.
    request = await api.act("requestCustomerInfo", request, message="Which line is wrong?")
    assert request["sla"]["state"] == "PAUSED"
    assert (await request_row(engine, pk))["next_sla_check_at"] is None

    pause_until = original["resolution_due_at"] + timedelta(seconds=1.5)
    await asyncio.sleep((pause_until - utcnow()).total_seconds())
    assert await sla_events(engine, pk) == []  # the original due time passed while paused

    request = await api.act("provideCustomerInfo", request, message="Line 3.")
    resumed = await request_row(engine, pk)
    due = resumed["resolution_due_at"]
    assert due >= original["resolution_due_at"] + timedelta(seconds=5)
    assert resumed["first_response_due_at"] == original["first_response_due_at"]  # met: not moved

    async def breached() -> bool:
        return len(await sla_events(engine, pk)) == 2

    await wait_for(breached, within=(due - utcnow()).total_seconds() + 2, what="the shifted alerts")
    alerts = await sla_events(engine, pk)
    at_risk = at_risk_instant(due_at=due, target_seconds=5, calendar=None)
    assert [(e["kind"], e["sla_target"]) for e in alerts] == [
        ("SLA_AT_RISK", "RESOLUTION"),
        ("SLA_BREACHED", "RESOLUTION"),
    ]
    for event, at in zip(alerts, (at_risk, due), strict=True):
        assert at <= event["occurred_at"] < at + LATE, (event, at)
        assert event["due_at"] == due
