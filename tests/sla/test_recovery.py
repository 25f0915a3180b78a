"""Catch-up after a restart, auto-close, rows held by other transactions, and an idle engine."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

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
from tests.support.builders import Builder

pytestmark = pytest.mark.clock  # reads the real clock: run again at a hostile instant (.ci/run)


async def test_alerts_and_closes_that_fell_due_while_no_engine_ran_happen_on_start(
    engine: AsyncEngine, world: World, start_servers: StartServers
) -> None:
    await import_policies(engine, "PT1H", "PT2H")  # 24x7, so the alerts' order is plain
    now = utcnow()
    b = Builder(engine, now=now)
    hour_ago = now - timedelta(hours=1)
    overdue = await b.request(
        customer=world.acme,
        invoice=world.invoice,
        team=world.teams["Billing"],
        assignee=world.ana,
        created_at=hour_ago - timedelta(hours=1),
        first_response_due_at=hour_ago,
        resolution_due_at=hour_ago + timedelta(minutes=30),
        next_sla_check_at=hour_ago - timedelta(minutes=30),
    )
    paused = await b.request(
        customer=world.acme,
        status="WAITING_ON_CUSTOMER",
        created_at=hour_ago - timedelta(hours=1),
        first_response_due_at=hour_ago,
        resolution_due_at=hour_ago,
        first_responded_at=hour_ago - timedelta(minutes=50),
    )
    # Resolved before the engine scheduled auto-closes (next check null): one is due, one is not.
    stale = await b.request(
        customer=world.acme, status="RESOLVED", resolved_at=now - timedelta(days=7, hours=1)
    )
    recent = await b.request(customer=world.acme, status="RESOLVED", resolved_at=now - timedelta(days=6))

    started = time.monotonic()
    (server,) = await start_servers(1)

    async def caught_up() -> bool:
        kinds = [e["kind"] for e in await events_of(engine, overdue.id)]
        return "ESCALATED" in kinds and (await request_row(engine, stale.id))["status"] == "CLOSED"

    await wait_for(caught_up, within=5, interval=0.02, what="the catch-up")
    assert time.monotonic() - started < 3  # server start included

    alerts = await sla_events(engine, overdue.id)
    # All owed alerts of the request in one pass, at-risk before breach, first response first.
    assert [(e["kind"], e["sla_target"]) for e in alerts] == [
        ("SLA_AT_RISK", "FIRST_RESPONSE"),
        ("SLA_BREACHED", "FIRST_RESPONSE"),
        ("SLA_AT_RISK", "RESOLUTION"),
        ("SLA_BREACHED", "RESOLUTION"),
    ]
    row = await request_row(engine, overdue.id)
    assert row["version"] == 1 + 1 + 1  # one engine change, then ESCALATE
    assert row["escalated"] is True and row["resolution_breached_at"] == row["resolution_due_at"]

    assert await sla_events(engine, paused.id) == []
    closed = await events_of(engine, stale.id)
    assert [(e["kind"], e["from_status"], e["to_status"], e["actor_subject"]) for e in closed] == [
        ("STATUS_CHANGED", "RESOLVED", "CLOSED", "system")
    ]
    kept = await request_row(engine, recent.id)
    assert kept["status"] == "RESOLVED"
    assert recent.resolved_at is not None
    assert kept["next_sla_check_at"] == recent.resolved_at + timedelta(days=7)
    assert server.sla_engine.stats.auto_closes == 1


class OffsetClock:
    """The application's clock: real time plus an offset the test moves."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.offset


async def test_a_resolved_request_is_closed_by_the_system_seven_days_later(
    engine: AsyncEngine, world: World, start_servers: StartServers
) -> None:
    clock = OffsetClock()
    (server,) = await start_servers(1, clock=clock)
    api = server.api
    request = await api.create(dispute(world))
    pk = ids.decode(request["id"])[1]
    request = await api.act("triageServiceRequest", request)
    request = await api.act("startWork", request)
    request = await api.act(
        "resolveServiceRequest", request, code="NO_ADJUSTMENT_NEEDED", summary="Charged once; explained."
    )
    resolved = await request_row(engine, pk)
    assert resolved["status"] == "RESOLVED"
    assert resolved["next_sla_check_at"] == resolved["resolved_at"] + timedelta(days=7)

    clock.offset = timedelta(days=6, hours=23)
    server.sla_engine.wake()
    await asyncio.sleep(0.5)
    assert (await request_row(engine, pk))["status"] == "RESOLVED"

    clock.offset = timedelta(days=7, seconds=1)
    server.sla_engine.wake()  # the clock jumped: real time would have woken the timer

    async def closed() -> bool:
        return (await request_row(engine, pk))["status"] == "CLOSED"

    await wait_for(closed, within=1, what="the auto-close")
    row = await request_row(engine, pk)
    assert row["next_sla_check_at"] is None and row["version"] == resolved["version"] + 1
    assert row["closed_at"] >= resolved["resolved_at"] + timedelta(days=7)
    last = (await events_of(engine, pk))[-1]
    assert (last["kind"], last["from_status"], last["to_status"], last["actor_subject"]) == (
        "STATUS_CHANGED",
        "RESOLVED",
        "CLOSED",
        "system",
    )
    async with engine.connect() as conn:
        audit = (
            await conn.execute(
                text(
                    "SELECT action, actor_subject FROM audit_entries WHERE entity_type = 'ServiceRequest' "
                    "AND entity_id = :e ORDER BY sequence DESC LIMIT 1"
                ),
                {"e": str(pk)},
            )
        ).one()
    assert (audit.action, audit.actor_subject) == ("CLOSE", "system")


async def test_a_row_held_by_another_transaction_is_retried_not_lost(
    engine: AsyncEngine, world: World, start_servers: StartServers
) -> None:
    await import_policies(engine, "PT1H", "PT2H")  # 24x7: only the breach below falls due soon
    (server,) = await start_servers(1)
    now = utcnow()
    due = now + timedelta(seconds=0.8)
    sr = await Builder(engine, now=now).request(
        customer=world.acme,
        created_at=now - timedelta(minutes=59),
        first_response_due_at=due,
        first_response_at_risk_at=now,
        resolution_due_at=now + timedelta(hours=2),
        next_sla_check_at=due,
    )
    server.sla_engine.wake()  # written behind the API's back: no event announces it
    async with engine.connect() as holder:
        transaction = await holder.begin()
        await holder.execute(text("SELECT 1 FROM service_requests WHERE id = :i FOR UPDATE"), {"i": sr.id})
        await asyncio.sleep((due - utcnow()).total_seconds() + 1.0)
        assert await sla_events(engine, sr.id) == []  # due, but held
        await transaction.rollback()
        released = time.monotonic()

    async def breached() -> bool:
        return len(await sla_events(engine, sr.id)) == 1

    # Retried on a short back-off (at most 0.4 s apart), not left for a wake-up that never comes.
    await wait_for(breached, within=3, interval=0.01, what="the retried breach")
    assert time.monotonic() - released < 3
    assert server.sla_engine.stats.locked_retries > 0
    await asyncio.sleep(0.3)
    assert [(e["kind"], e["sla_target"]) for e in await sla_events(engine, sr.id)] == [
        ("SLA_BREACHED", "FIRST_RESPONSE")
    ]


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


async def until_quiet(engine: AsyncEngine, *, quiet: float, within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with statements(engine) as seen:
            await asyncio.sleep(quiet)
        if not seen:
            return
    raise AssertionError(f"the server still sent statements {within} s after starting")


async def test_an_idle_engine_sends_no_statements_and_a_new_request_wakes_it(
    engine: AsyncEngine, world: World, start_servers: StartServers
) -> None:
    await import_policies(engine, "PT3S", "PT1H")  # first response at risk after 3 s (rounded up)
    (server,) = await start_servers(1)
    sla = server.sla_engine
    app_engine: AsyncEngine = server.app.state.services.engine
    # The start-up catch-up (the SLA engine, the outbound mail and webhook workers each look once)
    # ends first: the process is idle once half a second passes without a statement.
    await until_quiet(app_engine, quiet=0.5, within=10)
    reads = sla.stats.reads
    with statements(app_engine) as seen:
        await asyncio.sleep(2)
    assert seen == [] and sla.stats.reads == reads and sla.next_due is None

    request = await server.api.create(dispute(world))
    pk = ids.decode(request["id"])[1]
    row = await request_row(engine, pk)
    await wait_for(lambda: _has_events(engine, pk), within=5, what="the first alerts")
    alerts = await sla_events(engine, pk)
    assert {(e["kind"], e["sla_target"]) for e in alerts} == {
        ("SLA_AT_RISK", "FIRST_RESPONSE"),
        ("SLA_BREACHED", "FIRST_RESPONSE"),
    }
    for e in alerts:
        assert (
            row["first_response_due_at"]
            <= e["occurred_at"]
            < row["first_response_due_at"] + timedelta(seconds=1)
        )
    # Next: the resolution's at-risk instant, an hour away (the engine takes it up once its batch
    # has committed); until then the engine only sleeps.
    next_check = (await request_row(engine, pk))["next_sla_check_at"]

    async def sleeping_until_next_check() -> bool:
        return sla.next_due == next_check

    await wait_for(sleeping_until_next_check, within=5, what="the engine's next due instant")
    reads = sla.stats.reads
    with statements(app_engine) as seen:
        await asyncio.sleep(1.5)
    assert seen == [] and sla.stats.reads == reads


async def _has_events(engine: AsyncEngine, pk: int) -> bool:
    return len(await sla_events(engine, pk)) >= 2


async def test_a_configured_auto_close_delay_is_what_resolving_schedules(
    engine: AsyncEngine, world: World, start_servers: StartServers
) -> None:
    """Business rules `lifecycle.auto_close_days` (here 3) decide when the engine will close it."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE business_rules SET rules = jsonb_set(rules, '{auto_close_days}', '3')"
                " WHERE name = 'lifecycle'"
            )
        )
    (server,) = await start_servers(1)
    api = server.api
    request = await api.create(dispute(world))
    pk = ids.decode(request["id"])[1]
    for name in ("triageServiceRequest", "startWork"):
        request = await api.act(name, request)
    await api.act("resolveServiceRequest", request, code="NO_ADJUSTMENT_NEEDED", summary="Explained.")
    resolved = await request_row(engine, pk)
    assert resolved["next_sla_check_at"] == resolved["resolved_at"] + timedelta(days=3)
