"""addComment (first response, visibility) and the system operations (SLA escalation, auto-close)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from db.engine import make_sessionmaker
from db.uow import ChangeActor, UnitOfWork
from schema import ids
from services.sla import system
from tests.lifecycle.conftest import START, Api, Clock, World, audit_of, counts, dispute, events_of


async def escalate_by_system(sessionmaker: async_sessionmaker[AsyncSession], pk: int, now: datetime) -> bool:
    """The SLA engine's escalation, in a transaction of its own; True when it escalated."""
    async with UnitOfWork(sessionmaker, actor=ChangeActor.system(), now=now) as uow:
        escalated = await system.escalate(uow, request_id=pk) is not None
        await uow.commit()
    return escalated


async def auto_close(sessionmaker: async_sessionmaker[AsyncSession], pk: int, now: datetime) -> bool:
    """The SLA engine's auto-close, in a transaction of its own; True when it closed the request."""
    async with UnitOfWork(sessionmaker, actor=ChangeActor.system(), now=now) as uow:
        closed = await system.auto_close(uow, request_id=pk)
        await uow.commit()
    return closed


async def test_comments_count_as_changes_and_staff_public_ones_as_first_response(
    api: Api, world: World, engine: AsyncEngine, clock: Clock
) -> None:
    request = await api.create(**dispute(world))
    internal = await api.mutate(
        "ana@example.com",
        "addComment",
        {"serviceRequestId": request["id"], "body": "Checking ERP.", "visibility": "INTERNAL"},
    )
    assert internal["userErrors"] == [] and internal["comment"]["visibility"] == "INTERNAL"
    after_internal = internal["serviceRequest"]
    assert after_internal["version"] == 2 and after_internal["sla"]["firstRespondedAt"] is None
    clock.advance(minutes=20)
    public = await api.mutate(
        "ana@example.com",
        "addComment",
        {"serviceRequestId": request["id"], "body": "On it.", "visibility": "PUBLIC"},
    )
    assert public["serviceRequest"]["version"] == 3
    assert public["serviceRequest"]["sla"]["firstRespondedAt"].startswith("2026-11-23T10:20:00")
    events = await events_of(engine, request["id"])
    assert [e["kind"] for e in events][-2:] == ["COMMENTED", "COMMENTED"]
    assert all(e["comment_id"] is not None for e in events[-2:])
    assert [a["action"] for a in await audit_of(engine, "ServiceRequest", request["id"])][-2:] == [
        "ADD_COMMENT"
    ] * 2
    # A blank body is refused, nothing written.
    before = await counts(engine)
    blank = await api.mutate(
        "ana@example.com",
        "addComment",
        {"serviceRequestId": request["id"], "body": " ", "visibility": "PUBLIC"},
    )
    assert blank["userErrors"][0]["code"] == "VALIDATION_FAILED" and blank["userErrors"][0]["field"] == [
        "input",
        "body",
    ]
    assert await counts(engine) == before
    # The customer's own comment is no first response; the INTERNAL one is invisible to them.
    mine = await api.query(
        "customer:C-1001",
        "query($id: ID!) { node(id: $id) { ... on ServiceRequest { comments { nodes { body } } } } }",
        {"id": request["id"]},
    )
    assert [c["body"] for c in mine["data"]["node"]["comments"]["nodes"]] == ["On it."]


async def test_system_escalation_and_auto_close(
    api: Api, world: World, engine: AsyncEngine, clock: Clock
) -> None:
    sessionmaker = make_sessionmaker(engine)
    request = await api.create(**dispute(world))
    pk = ids.decode(request["id"])[1]
    assert await escalate_by_system(sessionmaker, pk, clock.now) is True
    events = await events_of(engine, request["id"])
    assert events[-1]["kind"] == "ESCALATED" and events[-1]["actor_subject"] == "system"
    audit = await audit_of(engine, "ServiceRequest", request["id"])
    assert audit[-1]["action"] == "ESCALATE" and audit[-1]["actor_subject"] == "system"
    assert audit[-1]["after"]["priority"] == "HIGH" and audit[-1]["after"]["version"] == 2
    assert await escalate_by_system(sessionmaker, 9999, clock.now) is False

    # Not resolved yet: nothing to close.
    assert await auto_close(sessionmaker, pk, clock.now) is False
    current = await api.act("sup@example.com", "triageServiceRequest", {**request, "version": 2})
    current = await api.act("sup@example.com", "startWork", current)
    resolved = await api.act(
        "sup@example.com", "resolveServiceRequest", current, code="REJECTED", summary="No error found."
    )
    assert await auto_close(sessionmaker, pk, clock.now + timedelta(days=6)) is False
    assert await auto_close(sessionmaker, pk, clock.now + timedelta(days=7)) is True
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT status, version, closed_at FROM service_requests WHERE id = :i"), {"i": pk}
            )
        ).one()
    assert row.status == "CLOSED" and row.version == resolved["version"] + 1
    assert row.closed_at == START + timedelta(days=7)
    last = (await events_of(engine, request["id"]))[-1]
    assert (last["kind"], last["from_status"], last["to_status"], last["actor_subject"]) == (
        "STATUS_CHANGED",
        "RESOLVED",
        "CLOSED",
        "system",
    )
