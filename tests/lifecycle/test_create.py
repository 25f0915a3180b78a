"""createServiceRequest through the real HTTP app: capture rules, priority, SLA, routing, events, audit."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from schema import ids
from tests.lifecycle.conftest import START, Api, World, audit_of, counts, dispute, events_of
from tests.support.builders import Builder, gid


async def test_customer_creates_a_billing_dispute_routed_with_sla_and_events(
    api: Api, world: World, engine: AsyncEngine
) -> None:
    request = await api.create(
        "customer:C-1001",
        **{k: v for k, v in dispute(world, "1200.00", priority="URGENT").items() if k != "customerId"},
    )
    assert request["status"] == "NEW" and request["version"] == 1
    # Customers never choose the priority: 1,200 USD -> MEDIUM.
    assert request["priority"] == "MEDIUM"
    # STANDARD x MEDIUM: 480 / 2,880 business minutes from Monday 10:00 (09-17 Mon-Fri).
    assert request["sla"]["firstResponseDueAt"].startswith("2026-11-24T10:00:00")
    assert request["sla"]["resolutionDueAt"].startswith("2026-12-01T10:00:00")
    events = await events_of(engine, request["id"])
    assert [e["kind"] for e in events] == ["CREATED", "ASSIGNED"]
    assert events[0]["to_status"] == "NEW" and events[0]["actor_subject"] == "portal@c-1001"
    assert events[1]["details"]["teamRule"] == "type" and events[1]["details"]["team"] == "Billing"
    assert events[1]["details"]["rule"] in {"fewest-open", "least-recently-assigned"}
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT team_id, assignee_id, next_sla_check_at FROM service_requests WHERE id = :i"),
                {"i": ids.decode(request["id"])[1]},
            )
        ).one()
        disputed = (
            await conn.execute(text("SELECT disputed FROM invoices WHERE id = :i"), {"i": world.invoice.id})
        ).scalar_one()
    assert row.team_id == world.billing.id and row.assignee_id in {world.ana.id, world.ben.id}
    assert row.next_sla_check_at is not None and disputed is True
    audit = await audit_of(engine, "ServiceRequest", request["id"])
    assert audit[0]["action"] == "CREATE" and audit[0]["before"] is None
    assert audit[0]["after"]["status"] == "NEW"


async def test_staff_may_choose_priority_and_partner_may_not(api: Api, world: World) -> None:
    chosen = await api.create("ana@example.com", **dispute(world, "50.00", priority="HIGH"))
    assert chosen["priority"] == "HIGH"
    derived = await api.create("partner:erp-connector", **dispute(world, "50.00", priority="URGENT"))
    assert derived["priority"] == "LOW"


async def test_priority_from_usd_impact_risk_and_large_amounts_go_to_escalations(
    api: Api, world: World, engine: AsyncEngine
) -> None:
    b = Builder(engine, now=START)
    big = await b.invoice(customer=world.acme, amount="90000.00", currency="EUR")
    request = await api.create(
        **{
            **dispute(world),
            "invoiceId": gid(big),
            "financialImpact": {"amount": "50000.00", "currency": "EUR"},
        }
    )
    # 50,000 EUR = 54,000 USD: URGENT, and >= 50,000 USD routes to Finance Escalations.
    assert request["priority"] == "URGENT"
    assert request["team"]["name"] == "Finance Escalations"
    assert request["assignee"]["email"] == "eve@example.com"
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE customers SET risk_rating = 'HIGH' WHERE id = :i"), {"i": world.acme.id}
        )
    raised = await api.create(**dispute(world, "1200.00"))
    assert raised["priority"] == "HIGH"  # MEDIUM, one step up for a HIGH-risk customer


async def test_unrouted_when_no_skilled_agent(api: Api, world: World, engine: AsyncEngine) -> None:
    request = await api.create(
        customerId=gid(world.acme),
        type="ACCOUNT_UPDATE",
        channel="EMAIL",
        subject="New billing address",
        description="Please update the address.",
    )
    assert request["team"]["name"] == "Customer Master" and request["assignee"] is None
    events = await events_of(engine, request["id"])
    assert events[1]["kind"] == "ASSIGNED" and events[1]["details"]["rule"] == "no-skilled-agent"


async def _refused(api: Api, engine: AsyncEngine, who: str, input: dict[str, object]) -> dict[str, object]:
    before = await counts(engine)
    payload = await api.mutate(who, "createServiceRequest", input)
    assert payload["serviceRequest"] is None
    assert await counts(engine) == before, "a refused create wrote something"
    assert len(payload["userErrors"]) == 1
    error: dict[str, object] = payload["userErrors"][0]
    return error


async def test_capture_errors_write_nothing(api: Api, world: World, engine: AsyncEngine) -> None:
    other_customer = await _refused(
        api, engine, "customer:C-1001", {**dispute(world), "customerId": gid(world.other)}
    )
    assert other_customer["code"] == "NOT_FOUND" and other_customer["field"] == ["input", "customerId"]
    wrong_type = await _refused(
        api, engine, "ana@example.com", {**dispute(world), "customerId": gid(world.invoice)}
    )
    assert wrong_type["code"] == "NOT_FOUND"
    unlinked = await _refused(
        api, engine, "partner:erp-connector", {**dispute(world), "customerId": gid(world.other)}
    )
    assert unlinked["code"] == "NOT_FOUND"
    blank = await _refused(api, engine, "ana@example.com", {**dispute(world), "subject": "   "})
    assert blank == {"field": ["input", "subject"], "message": blank["message"], "code": "VALIDATION_FAILED"}
    foreign_invoice = await _refused(
        api, engine, "ana@example.com", {**dispute(world), "invoiceId": gid(world.other_invoice)}
    )
    assert foreign_invoice["code"] == "VALIDATION_FAILED" and foreign_invoice["field"] == [
        "input",
        "invoiceId",
    ]
    cents = await _refused(api, engine, "ana@example.com", dispute(world, "10.001"))
    assert cents["code"] == "VALIDATION_FAILED"
    no_rate = await _refused(
        api,
        engine,
        "ana@example.com",
        {
            **dispute(world),
            "type": "GENERAL_INQUIRY",
            "invoiceId": None,
            "financialImpact": {"amount": "5.00", "currency": "JPY"},
        },
    )
    assert no_rate["code"] == "VALIDATION_FAILED" and no_rate["field"] == [
        "input",
        "financialImpact",
        "currency",
    ]
    too_much = await _refused(api, engine, "ana@example.com", dispute(world, "9850.01"))
    assert too_much["code"] == "AMOUNT_EXCEEDS_OUTSTANDING"
    too_old = await _refused(
        api, engine, "ana@example.com", {**dispute(world, "100.00"), "invoiceId": gid(world.old_invoice)}
    )
    assert too_old["code"] == "OUTSIDE_DISPUTE_WINDOW"
    kyc = await _refused(
        api,
        engine,
        "ana@example.com",
        {
            "customerId": gid(world.pending_kyc),
            "type": "CREDIT_LIMIT_CHANGE",
            "channel": "CRM",
            "subject": "Raise the limit",
            "description": "Please raise our credit limit to 80k.",
            "financialImpact": {"amount": "30000.00", "currency": "USD"},
        },
    )
    assert kyc["code"] == "KYC_NOT_VERIFIED"
    # Several broken rules: the first by precedence (VALIDATION_FAILED before AMOUNT_EXCEEDS_OUTSTANDING).
    several = await _refused(
        api, engine, "ana@example.com", {**dispute(world, "99999.00"), "description": ""}
    )
    assert several["code"] == "VALIDATION_FAILED"
    staff_without_customer = await _refused(
        api, engine, "ana@example.com", {k: v for k, v in dispute(world).items() if k != "customerId"}
    )
    assert staff_without_customer["field"] == ["input", "customerId"]


async def test_malformed_ids_and_forbidden_roles_are_top_level(
    api: Api, world: World, engine: AsyncEngine
) -> None:
    before = await counts(engine)
    garbage = await api.raw(
        "ana@example.com", "createServiceRequest", {**dispute(world), "customerId": "!!nope"}
    )
    assert garbage["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    auditor = await api.raw("audit@example.com", "createServiceRequest", dispute(world))
    assert auditor["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    read_only = api.tokens.staff("ana@example.com", "AGENT", scopes=["requests:read"])
    response = await api.client.post(
        "/graphql",
        json={
            "query": (
                "mutation($i: CreateServiceRequestInput!) "
                "{ createServiceRequest(input: $i) { userErrors { code } } }"
            ),
            "variables": {"i": dispute(world)},
        },
        headers={"Authorization": f"Bearer {read_only}"},
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await counts(engine) == before


async def test_idempotency_key_replays_and_refuses_a_different_input(
    api: Api, world: World, engine: AsyncEngine
) -> None:
    first = await api.create(**dispute(world, idempotencyKey="k-1"))
    before = await counts(engine)
    again = await api.create(**dispute(world, idempotencyKey="k-1"))
    assert again["id"] == first["id"] and again["version"] == first["version"]
    assert await counts(engine) == before
    changed = await _refused(api, engine, "ana@example.com", dispute(world, "99.00", idempotencyKey="k-1"))
    assert changed["code"] == "DUPLICATE" and changed["field"] == ["input", "idempotencyKey"]
    # The key belongs to the token subject: another caller's same key is a new request.
    other = await api.create("ben@example.com", **dispute(world, idempotencyKey="k-1"))
    assert other["id"] != first["id"]
