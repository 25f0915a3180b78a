"""seed-demo: the organisation through the import, then consistent requests in every status."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from demo.seed import seed_demo
from domain.enums import RequestStatus
from tests.importing.support import scalar

NOW = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)


async def _none(session: AsyncSession, sql: str) -> None:
    """The query counts offending rows: there must be none."""
    assert await scalar(session, sql) == 0, sql


async def test_seed_400_requests_in_every_status_with_consistent_rows(session: AsyncSession) -> None:
    summary = await seed_demo(session, requests=400, now=NOW, progress=None)
    await session.commit()

    assert summary.requests == 400
    assert summary.numbers == ("SR-000001", "SR-000400")
    statuses = set((await session.execute(text("SELECT DISTINCT status FROM service_requests"))).scalars())
    assert statuses == {s.value for s in RequestStatus}
    assert set(summary.by_status) == statuses
    # Per-status timestamps, resolution data, pause.
    await _none(
        session, "SELECT count(*) FROM service_requests WHERE status = 'NEW' AND triaged_at IS NOT NULL"
    )
    await _none(
        session,
        "SELECT count(*) FROM service_requests WHERE status NOT IN ('NEW', 'CANCELLED') "
        "AND triaged_at IS NULL",
    )
    await _none(
        session,
        "SELECT count(*) FROM service_requests WHERE status IN ('IN_PROGRESS', 'WAITING_ON_CUSTOMER', "
        "'PENDING_APPROVAL', 'RESOLVED', 'CLOSED') AND in_progress_at IS NULL",
    )
    for status, column in [
        ("WAITING_ON_CUSTOMER", "waiting_on_customer_at"),
        ("PENDING_APPROVAL", "pending_approval_at"),
        ("CLOSED", "closed_at"),
        ("CANCELLED", "cancelled_at"),
    ]:
        await _none(
            session, f"SELECT count(*) FROM service_requests WHERE status = '{status}' AND {column} IS NULL"
        )
    await _none(
        session,
        "SELECT count(*) FROM service_requests WHERE status IN ('RESOLVED', 'CLOSED') AND "
        "(resolved_at IS NULL "
        "OR resolution_code IS NULL OR resolution_summary IS NULL OR resolved_by_id IS NULL "
        "OR first_responded_at IS NULL)",
    )
    await _none(
        session,
        "SELECT count(*) FROM service_requests WHERE status NOT IN ('RESOLVED', 'CLOSED') "
        "AND resolved_at IS NOT NULL",
    )
    await _none(
        session,
        "SELECT count(*) FROM service_requests "
        "WHERE (status = 'WAITING_ON_CUSTOMER') <> (paused_at IS NOT NULL)",
    )
    # Order of time: created <= triaged <= in progress, resolved <= closed, nothing after now.
    await _none(
        session,
        "SELECT count(*) FROM service_requests WHERE triaged_at < created_at OR in_progress_at < triaged_at "
        "OR closed_at < resolved_at OR resolved_at < in_progress_at OR greatest(created_at, triaged_at, "
        "in_progress_at, waiting_on_customer_at, pending_approval_at, resolved_at, closed_at, cancelled_at, "
        "updated_at, first_responded_at) > :now".replace(":now", f"'{NOW.isoformat()}'"),
    )
    # Team and assignee: the assignee is a member of the team.
    await _none(
        session,
        "SELECT count(*) FROM service_requests r WHERE r.assignee_id IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM team_members m WHERE m.team_id = r.team_id AND m.staff_id = r.assignee_id)",
    )
    await _none(session, "SELECT count(*) FROM service_requests WHERE team_id IS NULL OR version < 1")
    # SLA: policy by tier x priority (escalation raises the priority, not the policy);
    # due = created + the policy's seconds.
    await _none(
        session,
        "SELECT count(*) FROM service_requests r JOIN customers c ON c.id = r.customer_id "
        "JOIN sla_policies p ON p.id = r.sla_policy_id "
        "LEFT JOIN contracts k ON k.customer_id = c.id "
        "WHERE p.tier <> coalesce(k.sla_tier, 'STANDARD') OR (NOT r.escalated AND p.priority <> r.priority) "
        "OR r.first_response_due_at <> r.created_at + p.first_response_seconds * interval '1 second' "
        "OR r.resolution_due_at < r.created_at + p.resolution_seconds * interval '1 second'",
    )
    breached = await scalar(
        session,
        "SELECT count(*) FROM service_requests "
        "WHERE first_response_breached_at IS NOT NULL OR resolution_breached_at IS NOT NULL",
    )
    assert breached > 0
    assert await scalar(session, "SELECT count(*) FROM service_requests WHERE escalated") > 0
    # Money and references.
    await _none(
        session,
        "SELECT count(*) FROM service_requests r LEFT JOIN invoices i ON i.id = r.invoice_id "
        "WHERE r.type IN ('BILLING_DISPUTE', 'INVOICE_CORRECTION') AND (i.id IS NULL OR i.customer_id <> "
        "r.customer_id OR r.financial_impact_currency <> i.currency OR r.financial_impact_amount > "
        "i.outstanding)",
    )
    await _none(
        session,
        "SELECT count(*) FROM service_requests r LEFT JOIN payments p ON p.id = r.payment_id "
        "WHERE r.type = 'PAYMENT_POSTING' AND (p.id IS NULL OR p.customer_id <> r.customer_id)",
    )
    # Events: one CREATED each, and the last status event names the current status.
    await _none(
        session,
        "SELECT count(*) FROM service_requests r WHERE (SELECT count(*) FROM request_events e "
        "WHERE e.request_id = r.id AND e.kind = 'CREATED' AND e.to_status = 'NEW' AND e.customer_id "
        "= r.customer_id) <> 1",
    )
    await _none(
        session,
        "SELECT count(*) FROM service_requests r WHERE r.status <> (SELECT e.to_status FROM request_events e "
        "WHERE e.request_id = r.id AND e.to_status IS NOT NULL ORDER BY e.id DESC LIMIT 1)",
    )
    await _none(
        session,
        "SELECT count(*) FROM service_requests r WHERE r.status = 'PENDING_APPROVAL' AND NOT EXISTS "
        "(SELECT 1 FROM approvals a WHERE a.request_id = r.id AND a.status = 'PENDING')",
    )
    visibilities = set((await session.execute(text("SELECT DISTINCT visibility FROM comments"))).scalars())
    assert visibilities == {"PUBLIC", "INTERNAL"}
    assert await scalar(session, "SELECT count(*) FROM request_events WHERE kind = 'ASSIGNED'") >= 400
    assert await scalar(session, "SELECT count(DISTINCT customer_id) FROM service_requests") == 14
    # EMAIL.md: a mailbox per team (billing@ among them) and a contact per customer, the demo
    # CUSTOMER token's subject.
    await _none(
        session,
        "SELECT count(*) FROM teams t WHERE NOT EXISTS "
        "(SELECT 1 FROM mailboxes m WHERE m.team_id = t.id AND m.active)",
    )
    assert (
        await scalar(session, "SELECT count(*) FROM mailboxes WHERE address = 'billing@casegraph.example'")
        == 1
    )
    await _none(
        session,
        "SELECT count(*) FROM customers c WHERE NOT EXISTS (SELECT 1 FROM contacts k WHERE "
        "k.customer_id = c.id AND k.active AND k.email = 'ap.' || lower(c.external_ref) || "
        "'@customers.example.com')",
    )


async def test_seeding_twice_keeps_the_organisation_and_adds_requests(engine: AsyncEngine) -> None:
    first = await seed_demo(engine, requests=30, now=NOW, progress=None)
    second = await seed_demo(engine, requests=30, now=NOW, progress=None)

    assert first.organisation.changed
    assert not second.organisation.changed
    assert second.numbers == ("SR-000031", "SR-000060")
    async with engine.connect() as conn:
        total = (await conn.execute(text("SELECT count(*) FROM service_requests"))).scalar_one()
    assert total == 60


async def test_generator_writes_20000_requests_quickly(engine: AsyncEngine) -> None:
    started = time.monotonic()
    summary = await seed_demo(engine, requests=20_000, now=NOW, batch_size=5_000, progress=None)
    elapsed = time.monotonic() - started
    print(f"\nseed-demo 20,000 requests: {elapsed:.1f} s ({summary})", file=sys.stderr)
    assert summary.requests == 20_000
    assert summary.events > 3 * 20_000
    assert elapsed < 120  # typically ~15 s; generous for a loaded CI machine
