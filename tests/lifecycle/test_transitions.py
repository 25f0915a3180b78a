"""The transitions of an existing request through the real HTTP app: effects, events, audit,
every userError they can answer (with nothing written), and who may act."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from schema import ids
from tests.lifecycle.conftest import START, Api, Clock, World, audit_of, counts, dispute, events_of
from tests.support.builders import Builder


async def _refused(
    api: Api, engine: AsyncEngine, who: str, mutation: str, input: dict[str, Any]
) -> dict[str, Any]:
    """The single userError of a refused mutation, after checking it wrote nothing."""
    before = await counts(engine)
    payload = await api.mutate(who, mutation, input)
    assert await counts(engine) == before, f"{mutation} wrote something although refused"
    assert payload["serviceRequest"] is None and len(payload["userErrors"]) == 1, payload
    error: dict[str, Any] = payload["userErrors"][0]
    return error


async def _top_level(api: Api, engine: AsyncEngine, who: str, mutation: str, input: dict[str, Any]) -> str:
    before = await counts(engine)
    body = await api.raw(who, mutation, input)
    assert await counts(engine) == before
    code: str = body["errors"][0]["extensions"]["code"]
    return code


async def _in_progress(api: Api, world: World, **create: Any) -> dict[str, Any]:
    """A dispute assigned to ana, triaged and started by her."""
    request = await api.create(**dispute(world, **create))
    request = await api.act(
        "sup@example.com", "assignServiceRequest", request, assigneeId=ids.encode("Agent", world.ana.id)
    )
    request = await api.act("ana@example.com", "triageServiceRequest", request)
    return await api.act("ana@example.com", "startWork", request)


async def test_happy_path_new_to_closed_with_events_and_audit(
    api: Api, world: World, engine: AsyncEngine, clock: Clock
) -> None:
    request = await api.create(**dispute(world))
    assert request["priority"] == "MEDIUM"
    triaged = await api.act(
        "sup@example.com", "triageServiceRequest", request, priority="HIGH", type="INVOICE_CORRECTION"
    )
    assert (triaged["status"], triaged["priority"], triaged["type"], triaged["version"]) == (
        "TRIAGED",
        "HIGH",
        "INVOICE_CORRECTION",
        2,
    )
    # STANDARD x HIGH re-derived from createdAt (Monday 10:00): 240 / 1,440 business minutes.
    assert triaged["sla"]["firstResponseDueAt"].startswith("2026-11-23T14:00:00")
    assert triaged["sla"]["resolutionDueAt"].startswith("2026-11-26T10:00:00")
    assigned = await api.act(
        "sup@example.com", "assignServiceRequest", triaged, assigneeId=ids.encode("Agent", world.ben.id)
    )
    assert assigned["assignee"]["email"] == "ben@example.com"
    clock.advance(minutes=5)
    started = await api.act("ben@example.com", "startWork", assigned)
    assert started["status"] == "IN_PROGRESS" and started["sla"]["firstRespondedAt"] is None
    resolved = await api.act(
        "ben@example.com",
        "resolveServiceRequest",
        started,
        code="NO_ADJUSTMENT_NEEDED",
        summary="Charged once; explained.",
    )
    assert resolved["status"] == "RESOLVED" and resolved["sla"]["state"] == "MET"
    # The summary is a PUBLIC staff comment: the first response.
    assert resolved["sla"]["firstRespondedAt"] is not None
    closed = await api.act("customer:C-1001", "closeServiceRequest", resolved, message="Thanks!")
    assert closed["status"] == "CLOSED" and closed["version"] == 6
    kinds = [(e["kind"], e["from_status"], e["to_status"]) for e in await events_of(engine, request["id"])]
    assert kinds == [
        ("CREATED", None, "NEW"),
        ("ASSIGNED", None, None),
        ("TRIAGED", "NEW", "TRIAGED"),
        ("ASSIGNED", None, None),
        ("STATUS_CHANGED", "TRIAGED", "IN_PROGRESS"),
        ("STATUS_CHANGED", "IN_PROGRESS", "RESOLVED"),
        ("COMMENTED", None, None),
        ("STATUS_CHANGED", "RESOLVED", "CLOSED"),
        ("COMMENTED", None, None),
    ]
    actions = [a["action"] for a in await audit_of(engine, "ServiceRequest", request["id"])]
    assert actions == ["CREATE", "TRIAGE", "ASSIGN", "START_WORK", "RESOLVE", "CLOSE"]
    triage_audit = (await audit_of(engine, "ServiceRequest", request["id"]))[1]
    assert triage_audit["before"]["priority"] == "MEDIUM" and triage_audit["after"]["priority"] == "HIGH"
    assert triage_audit["before"]["version"] == 1 and triage_audit["after"]["version"] == 2
    async with engine.connect() as conn:
        disputed = (
            await conn.execute(text("SELECT disputed FROM invoices WHERE id = :i"), {"i": world.invoice.id})
        ).scalar_one()
    assert disputed is False  # INVOICE_CORRECTION after triage; resolution cleared the flag anyway


async def test_pause_and_resume_move_due_times_by_the_paused_business_time(
    api: Api, world: World, clock: Clock, engine: AsyncEngine
) -> None:
    request = await _in_progress(api, world)
    due = request["sla"]["resolutionDueAt"]
    clock.advance(hours=1)
    waiting = await api.act("ana@example.com", "requestCustomerInfo", request, message="Which line is wrong?")
    assert waiting["status"] == "WAITING_ON_CUSTOMER" and waiting["sla"]["state"] == "PAUSED"
    assert waiting["sla"]["firstRespondedAt"] is not None  # the PUBLIC message answered the customer
    async with engine.connect() as conn:
        check = (
            await conn.execute(
                text("SELECT next_sla_check_at FROM service_requests WHERE id = :i"),
                {"i": ids.decode(request["id"])[1]},
            )
        ).scalar_one()
    assert check is None  # nothing falls due while paused
    clock.advance(hours=7)  # Monday 11:00 -> 18:00: six hours of business time (closing at 17:00)
    resumed = await api.act("customer:C-1001", "provideCustomerInfo", waiting, message="Line 3.")
    assert resumed["status"] == "IN_PROGRESS"
    assert resumed["sla"]["pausedSeconds"] == 6 * 3600
    # 2026-12-01T10:00 moved by six business hours: 16:00 the same day.
    assert due.startswith("2026-12-01T10:00:00")
    assert resumed["sla"]["resolutionDueAt"].startswith("2026-12-01T16:00:00")
    kinds = [e["kind"] for e in await events_of(engine, request["id"])][-4:]
    assert kinds == ["STATUS_CHANGED", "COMMENTED", "STATUS_CHANGED", "COMMENTED"]


async def test_customer_comment_while_waiting_resumes(
    api: Api, world: World, clock: Clock, engine: AsyncEngine
) -> None:
    request = await _in_progress(api, world)
    waiting = await api.act("ana@example.com", "requestCustomerInfo", request, message="Which line?")
    clock.advance(minutes=30)
    payload = await api.mutate(
        "customer:C-1001",
        "addComment",
        {"serviceRequestId": request["id"], "body": "Line 3.", "visibility": "PUBLIC"},
    )
    assert payload["userErrors"] == [] and payload["comment"]["body"] == "Line 3."
    after = payload["serviceRequest"]
    assert after["status"] == "IN_PROGRESS" and after["version"] == waiting["version"] + 1
    assert after["sla"]["pausedSeconds"] == 30 * 60
    kinds = [(e["kind"], e["to_status"]) for e in await events_of(engine, request["id"])][-2:]
    assert kinds == [("STATUS_CHANGED", "IN_PROGRESS"), ("COMMENTED", None)]


async def test_version_conflict_invalid_transition_and_not_found_write_nothing(
    api: Api, world: World, engine: AsyncEngine
) -> None:
    request = await api.create(**dispute(world))
    stale = {"id": request["id"], "expectedVersion": 99}
    assert (await _refused(api, engine, "sup@example.com", "triageServiceRequest", stale))[
        "code"
    ] == "VERSION_CONFLICT"
    current = {"id": request["id"], "expectedVersion": 1}
    wrong = await _refused(
        api,
        engine,
        "sup@example.com",
        "resolveServiceRequest",
        {**current, "code": "REJECTED", "summary": "x"},
    )
    assert wrong["code"] == "INVALID_TRANSITION"
    # INVALID_TRANSITION comes after VERSION_CONFLICT in precedence.
    both = await _refused(api, engine, "sup@example.com", "startWork", stale)
    assert both["code"] == "VERSION_CONFLICT"
    missing = await _refused(
        api,
        engine,
        "sup@example.com",
        "startWork",
        {"id": ids.encode("ServiceRequest", 999), "expectedVersion": 1},
    )
    assert missing["code"] == "NOT_FOUND" and missing["field"] == ["input", "id"]
    other_type = await _refused(
        api, engine, "sup@example.com", "startWork", {"id": ids.encode("Invoice", 1), "expectedVersion": 1}
    )
    assert other_type["code"] == "NOT_FOUND"
    garbage = await _top_level(
        api, engine, "sup@example.com", "startWork", {"id": "###", "expectedVersion": 1}
    )
    assert garbage == "BAD_USER_INPUT"


async def test_start_work_needs_an_assignee_and_request_info_a_message(
    api: Api, world: World, engine: AsyncEngine
) -> None:
    request = await api.create(
        customerId=ids.encode("Customer", world.acme.id),
        type="ACCOUNT_UPDATE",
        channel="EMAIL",
        subject="Address",
        description="New address.",
    )
    triaged = await api.act("sup@example.com", "triageServiceRequest", request)
    unassigned = await _refused(
        api,
        engine,
        "sup@example.com",
        "startWork",
        {"id": request["id"], "expectedVersion": triaged["version"]},
    )
    assert unassigned["code"] == "INVALID_TRANSITION"
    started = await _in_progress(api, world)
    silent = await _refused(
        api,
        engine,
        "ana@example.com",
        "requestCustomerInfo",
        {"id": started["id"], "expectedVersion": started["version"]},
    )
    assert silent == {
        "field": ["input", "message"],
        "message": silent["message"],
        "code": "VALIDATION_FAILED",
    }


async def test_resolve_guards_pending_approval_and_posted_adjustment(
    api: Api, world: World, engine: AsyncEngine
) -> None:
    request = await _in_progress(api, world)
    pk = ids.decode(request["id"])[1]
    no_adjustment = await _refused(
        api,
        engine,
        "ana@example.com",
        "resolveServiceRequest",
        {
            "id": request["id"],
            "expectedVersion": request["version"],
            "code": "ADJUSTMENT_POSTED",
            "summary": "Credited.",
        },
    )
    assert no_adjustment["code"] == "VALIDATION_FAILED" and no_adjustment["field"] == ["input", "code"]
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO approvals (request_id, kind, amount, currency, required_level, "
                "required_approvals, status, justification, requested_by_id) "
                "VALUES (:r, 'INVOICE_ADJUSTMENT', 5000, 'USD', 'SUPERVISOR', 1, 'PENDING', 'credit', :s)"
            ),
            {"r": pk, "s": world.ana.id},
        )
    pending = await _refused(
        api,
        engine,
        "ana@example.com",
        "resolveServiceRequest",
        {
            "id": request["id"],
            "expectedVersion": request["version"],
            "code": "NO_ADJUSTMENT_NEEDED",
            "summary": "Done.",
        },
    )
    assert pending["code"] == "APPROVAL_REQUIRED"
    cancelled = await api.act(
        "ana@example.com", "cancelServiceRequest", request, message="Duplicate of another case."
    )
    assert cancelled["status"] == "CANCELLED"
    async with engine.connect() as conn:
        status = (
            await conn.execute(text("SELECT status FROM approvals WHERE request_id = :r"), {"r": pk})
        ).scalar_one()
        disputed = (
            await conn.execute(text("SELECT disputed FROM invoices WHERE id = :i"), {"i": world.invoice.id})
        ).scalar_one()
    assert status == "CANCELLED" and disputed is False


async def test_dispute_flag_stays_while_another_dispute_is_open(
    api: Api, world: World, engine: AsyncEngine
) -> None:
    first = await api.create(**dispute(world, "100.00"))
    await api.create(**dispute(world, "200.00"))
    await api.act("sup@example.com", "cancelServiceRequest", first)
    async with engine.connect() as conn:
        disputed = (
            await conn.execute(text("SELECT disputed FROM invoices WHERE id = :i"), {"i": world.invoice.id})
        ).scalar_one()
    assert disputed is True


async def test_reopen_within_the_window_restarts_resolution_and_keeps_a_breach(
    api: Api, world: World, engine: AsyncEngine, clock: Clock
) -> None:
    request = await _in_progress(api, world)
    resolved = await api.act(
        "ana@example.com", "resolveServiceRequest", request, code="REJECTED", summary="Not a dispute."
    )
    clock.advance(days=3)
    reopened = await api.act("customer:C-1001", "reopenServiceRequest", resolved, message="Still wrong.")
    assert reopened["status"] == "IN_PROGRESS"
    # 2,880 business minutes (MEDIUM) from Thursday 10:00 -> Friday 10:00 the week after.
    assert reopened["sla"]["resolutionDueAt"].startswith("2026-12-04T10:00:00")
    resolved_again = await api.act(
        "ana@example.com", "resolveServiceRequest", reopened, code="REJECTED", summary="Checked."
    )
    clock.advance(days=15)
    late = await _refused(
        api,
        engine,
        "customer:C-1001",
        "reopenServiceRequest",
        {"id": request["id"], "expectedVersion": resolved_again["version"]},
    )
    assert late["code"] == "INVALID_TRANSITION"

    b = Builder(engine, now=START)
    breached = await b.request(
        customer=world.acme,
        status="RESOLVED",
        assignee=world.ana,
        resolved_at=clock.now - timedelta(days=1),
        resolution_due_at=clock.now - timedelta(days=2),
        resolution_breached_at=clock.now - timedelta(days=2),
    )
    after = await api.act(
        "admin@example.com",
        "reopenServiceRequest",
        {"id": ids.encode("ServiceRequest", breached.id), "version": 1},
    )
    assert after["sla"]["state"] == "BREACHED"


async def test_escalate_raises_priority_and_routes_to_escalations_without_extending_due_times(
    api: Api, world: World, engine: AsyncEngine
) -> None:
    request = await _in_progress(api, world)
    escalated = await api.act("ana@example.com", "escalateServiceRequest", request)
    assert escalated["escalated"] is True and escalated["priority"] == "HIGH"
    assert (
        escalated["team"]["name"] == "Finance Escalations"
        and escalated["assignee"]["email"] == "eve@example.com"
    )
    assert escalated["sla"] == {**request["sla"], "state": escalated["sla"]["state"]}
    last = (await events_of(engine, request["id"]))[-1]
    assert last["kind"] == "ESCALATED" and last["details"]["toPriority"] == "HIGH"
    assert last["team_id"] == world.escalations.id
    # ana is no longer the assignee: she may not escalate again.
    again = await _refused(
        api,
        engine,
        "ana@example.com",
        "escalateServiceRequest",
        {"id": request["id"], "expectedVersion": escalated["version"]},
    )
    assert again["code"] == "INVALID_TRANSITION"


async def test_assign_rules(api: Api, world: World, engine: AsyncEngine) -> None:
    request = await api.create(**dispute(world))
    at = {"id": request["id"], "expectedVersion": request["version"]}
    others = await _refused(
        api,
        engine,
        "ana@example.com",
        "assignServiceRequest",
        {**at, "assigneeId": ids.encode("Agent", world.ben.id)},
    )
    assert others["code"] == "INVALID_TRANSITION"
    outsider = await _refused(
        api,
        engine,
        "sup@example.com",
        "assignServiceRequest",
        {**at, "assigneeId": ids.encode("Agent", world.eve.id)},
    )
    assert outsider["code"] == "VALIDATION_FAILED" and outsider["field"] == ["input", "assigneeId"]
    ghost = await _refused(
        api, engine, "sup@example.com", "assignServiceRequest", {**at, "assigneeId": ids.encode("Agent", 999)}
    )
    assert ghost["code"] == "NOT_FOUND"
    himself = await api.act(
        "ben@example.com", "assignServiceRequest", request, assigneeId=ids.encode("Agent", world.ben.id)
    )
    assert himself["assignee"]["email"] == "ben@example.com"
    team = await api.act(
        "sup@example.com", "assignServiceRequest", himself, teamId=ids.encode("Team", world.escalations.id)
    )
    assert team["team"]["name"] == "Finance Escalations" and team["assignee"]["email"] == "eve@example.com"
    routed = await api.act("sup@example.com", "assignServiceRequest", team)
    assert routed["team"]["name"] == "Billing"
    assert [
        e["details"].get("rule") for e in await events_of(engine, request["id"]) if e["kind"] == "ASSIGNED"
    ][-3:] == ["manual", "fewest-open", "least-recently-assigned"]


async def test_who_may_act(api: Api, world: World, engine: AsyncEngine) -> None:
    request = await _in_progress(api, world)
    at = {"id": request["id"], "expectedVersion": request["version"]}
    # Not the assignee: a business rule on this request.
    assert (await _refused(api, engine, "ben@example.com", "requestCustomerInfo", {**at, "message": "?"}))[
        "code"
    ] == "INVALID_TRANSITION"
    # Roles that may never do it: top-level FORBIDDEN.
    assert await _top_level(api, engine, "customer:C-1001", "escalateServiceRequest", at) == "FORBIDDEN"
    assert await _top_level(api, engine, "partner:erp-connector", "triageServiceRequest", at) == "FORBIDDEN"
    assert await _top_level(api, engine, "audit@example.com", "cancelServiceRequest", at) == "FORBIDDEN"
    assert (
        await _top_level(
            api,
            engine,
            "audit@example.com",
            "addComment",
            {"serviceRequestId": request["id"], "body": "x", "visibility": "PUBLIC"},
        )
        == "FORBIDDEN"
    )
    assert (
        await _top_level(
            api,
            engine,
            "customer:C-1001",
            "addComment",
            {"serviceRequestId": request["id"], "body": "x", "visibility": "INTERNAL"},
        )
        == "FORBIDDEN"
    )
    # A customer cannot cancel once IN_PROGRESS; another customer does not see the request at all.
    assert (await _refused(api, engine, "customer:C-1001", "cancelServiceRequest", at))[
        "code"
    ] == "INVALID_TRANSITION"
    assert (await _refused(api, engine, "customer:C-2002", "cancelServiceRequest", at))["code"] == "NOT_FOUND"
    foreign = await api.mutate(
        "customer:C-2002",
        "addComment",
        {"serviceRequestId": request["id"], "body": "hi", "visibility": "PUBLIC"},
    )
    assert foreign["userErrors"][0]["code"] == "NOT_FOUND"
    # A partner acts for its linked customer.
    new = await api.create(**dispute(world, "10.00"))
    cancelled = await api.act("partner:erp-connector", "cancelServiceRequest", new)
    assert cancelled["status"] == "CANCELLED"


async def test_a_type_change_at_triage_must_meet_the_new_types_capture_rules(
    api: Api, world: World, engine: AsyncEngine
) -> None:
    """Retyping is refused where capturing the request as that type would have been (§2)."""
    inquiry = await api.create(
        customerId=ids.encode("Customer", world.acme.id),
        type="GENERAL_INQUIRY",
        channel="EMAIL",
        subject="Question about my bill",
        description="What is this line?",
    )

    def triage(request: dict[str, Any], new_type: str) -> dict[str, Any]:
        return {"id": request["id"], "expectedVersion": request["version"], "type": new_type}

    # A dispute needs an invoice and an amount.
    error = await _refused(
        api, engine, "sup@example.com", "triageServiceRequest", triage(inquiry, "BILLING_DISPUTE")
    )
    assert (error["code"], error["field"]) == ("VALIDATION_FAILED", ["input", "type"])
    # Credit-limit changes wait for KYC.
    pending = await api.create(
        customerId=ids.encode("Customer", world.pending_kyc.id),
        type="GENERAL_INQUIRY",
        channel="EMAIL",
        subject="Our limit",
        description="Can it be raised?",
    )
    error = await _refused(
        api, engine, "sup@example.com", "triageServiceRequest", triage(pending, "CREDIT_LIMIT_CHANGE")
    )
    assert (error["code"], error["field"]) == ("KYC_NOT_VERIFIED", ["input", "type"])
    # A dispute may become an invoice correction: both need what it has.
    request = await api.create(**dispute(world))
    triaged = await api.act("sup@example.com", "triageServiceRequest", request, type="INVOICE_CORRECTION")
    assert (triaged["status"], triaged["type"]) == ("TRIAGED", "INVOICE_CORRECTION")
