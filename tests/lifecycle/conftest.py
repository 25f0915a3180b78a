"""Fixtures of the lifecycle tests: the real app over HTTP with a settable clock, real tokens,
and a small organisation (teams, staff, customers, invoices, a partner)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from records.rows import CustomerRow, InvoiceRow, PaymentRow, StaffRow, TeamRow
from server.settings import Settings
from tests.conftest import Tokens, bearer
from tests.support.builders import Builder, gid

# A Monday, 10:00 UTC: inside the built-in business hours (Mon-Fri 09:00-17:00 UTC).
START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

REQUEST_FIELDS = """
  id number status priority version escalated type
  team { name } assignee { email }
  sla { state firstResponseDueAt resolutionDueAt firstRespondedAt pausedSeconds }
"""


class Clock:
    """The app's clock; tests move it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
async def api_client(settings: Settings, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    """The real ASGI app (lifespan running) on this test's database, driven by `clock`."""
    from server.app import create_app

    application = create_app(settings, clock=clock)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            yield c


@dataclass
class World:
    acme: CustomerRow
    other: CustomerRow
    pending_kyc: CustomerRow
    invoice: InvoiceRow  # acme, USD 9,850 outstanding, issued 10 days ago
    old_invoice: InvoiceRow  # acme, issued 200 days ago
    other_invoice: InvoiceRow
    payment: PaymentRow
    billing: TeamRow
    escalations: TeamRow
    ana: StaffRow  # AGENT in Billing
    ben: StaffRow  # AGENT in Billing
    eve: StaffRow  # AGENT in Finance Escalations
    sup: StaffRow  # SUPERVISOR
    admin: StaffRow
    auditor: StaffRow


@pytest.fixture
async def world(engine: AsyncEngine) -> World:
    b = Builder(engine, now=START)
    teams = {
        name: await b.team(name=name)
        for name in (
            "Billing",
            "Cash Application",
            "Credit",
            "Customer Master",
            "Customer Service",
            "Finance Escalations",
        )
    }
    billing_skills = ["BILLING_DISPUTE", "INVOICE_CORRECTION", "GENERAL_INQUIRY"]
    ana = await b.staff(name="Ana", email="ana@example.com", skills=billing_skills, teams=[teams["Billing"]])
    ben = await b.staff(name="Ben", email="ben@example.com", skills=billing_skills, teams=[teams["Billing"]])
    everything = ["BILLING_DISPUTE", "INVOICE_CORRECTION", "CREDIT_LIMIT_CHANGE", "GENERAL_INQUIRY"]
    eve = await b.staff(
        name="Eve", email="eve@example.com", skills=everything, teams=[teams["Finance Escalations"]]
    )
    sup = await b.staff(
        name="Sue",
        email="sup@example.com",
        role="SUPERVISOR",
        approval_level="SUPERVISOR",
        teams=[teams["Billing"]],
    )
    admin = await b.staff(name="Admin", email="admin@example.com", role="ADMIN", approval_level="CONTROLLER")
    auditor = await b.staff(name="Audra", email="audit@example.com", role="AUDITOR")
    acme = await b.customer(name="Acme", external_ref="C-1001")
    other = await b.customer(name="Other", external_ref="C-2002")
    pending_kyc = await b.customer(name="Pending", external_ref="C-3003", kyc_status="PENDING")
    invoice = await b.invoice(customer=acme, amount="9850.00", issued_on=(START - timedelta(days=10)).date())
    old_invoice = await b.invoice(
        customer=acme, amount="500.00", issued_on=(START - timedelta(days=200)).date()
    )
    other_invoice = await b.invoice(
        customer=other, amount="700.00", issued_on=(START - timedelta(days=5)).date()
    )
    payment = await b.payment(customer=acme)
    await b.partner(customers=[acme], client_id="erp-connector")
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO exchange_rates (currency, usd) VALUES ('EUR', 1.08)"))
    return World(
        acme=acme,
        other=other,
        pending_kyc=pending_kyc,
        invoice=invoice,
        old_invoice=old_invoice,
        other_invoice=other_invoice,
        payment=payment,
        billing=teams["Billing"],
        escalations=teams["Finance Escalations"],
        ana=ana,
        ben=ben,
        eve=eve,
        sup=sup,
        admin=admin,
        auditor=auditor,
    )


class Api:
    """GraphQL over HTTP with real bearer tokens."""

    def __init__(self, client: httpx.AsyncClient, tokens: Tokens) -> None:
        self.client = client
        self.tokens = tokens

    def token(self, who: str) -> str:
        """'customer:C-1001', 'partner:erp-connector', or a staff email[:ROLE]."""
        kind, _, rest = who.partition(":")
        if kind == "customer":
            return self.tokens.customer(rest)
        if kind == "partner":
            return self.tokens.partner(rest)
        email, _, role = who.partition(":")
        role = role or {"sup": "SUPERVISOR", "admin": "ADMIN", "audit": "AUDITOR"}.get(
            email.split("@")[0], "AGENT"
        )
        return self.tokens.staff(email, role)

    async def query(self, who: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=bearer(self.token(who))
        )
        body: dict[str, Any] = response.json()
        return body

    async def mutate(
        self, who: str, mutation: str, input: dict[str, Any], fields: str = REQUEST_FIELDS
    ) -> dict[str, Any]:
        """The payload of `mutation(input:)`; top-level errors raise (use `raw` to inspect them)."""
        body = await self.raw(who, mutation, input, fields)
        assert not body.get("errors"), body
        payload: dict[str, Any] = body["data"][mutation]
        return payload

    async def raw(
        self, who: str, mutation: str, input: dict[str, Any], fields: str = REQUEST_FIELDS
    ) -> dict[str, Any]:
        selection = "comment { id body visibility } serviceRequest { " + fields + " }"
        if mutation != "addComment":
            selection = "serviceRequest { " + fields + " }"
        query = (
            f"mutation($input: {_INPUTS[mutation]}!) "
            f"{{ {mutation}(input: $input) {{ {selection} userErrors {{ field message code }} }} }}"
        )
        return await self.query(who, query, {"input": input})

    async def create(self, who: str = "ana@example.com", **input: Any) -> dict[str, Any]:
        """A created request (asserts success)."""
        payload = await self.mutate(who, "createServiceRequest", input)
        assert payload["userErrors"] == [], payload
        request: dict[str, Any] = payload["serviceRequest"]
        return request

    async def act(self, who: str, mutation: str, request: dict[str, Any], **input: Any) -> dict[str, Any]:
        """A transition on `request` at its version (asserts success); the request afterwards."""
        payload = await self.mutate(
            who, mutation, {"id": request["id"], "expectedVersion": request["version"], **input}
        )
        assert payload["userErrors"] == [], payload
        result: dict[str, Any] = payload["serviceRequest"]
        return result


_INPUTS = {
    "createServiceRequest": "CreateServiceRequestInput",
    "triageServiceRequest": "TriageServiceRequestInput",
    "assignServiceRequest": "AssignServiceRequestInput",
    "startWork": "TransitionServiceRequestInput",
    "requestCustomerInfo": "TransitionServiceRequestInput",
    "provideCustomerInfo": "TransitionServiceRequestInput",
    "escalateServiceRequest": "TransitionServiceRequestInput",
    "resolveServiceRequest": "ResolveServiceRequestInput",
    "closeServiceRequest": "TransitionServiceRequestInput",
    "reopenServiceRequest": "TransitionServiceRequestInput",
    "cancelServiceRequest": "TransitionServiceRequestInput",
    "addComment": "AddCommentInput",
    "markDuplicate": "MarkDuplicateInput",
}


@pytest.fixture
def api(api_client: httpx.AsyncClient, tokens: Tokens) -> Api:
    return Api(api_client, tokens)


def dispute(world: World, amount: str = "1200.00", **extra: Any) -> dict[str, Any]:
    """A valid createServiceRequest input: a billing dispute on acme's recent invoice."""
    return {
        "customerId": gid(world.acme),
        "type": "BILLING_DISPUTE",
        "channel": "PORTAL",
        "subject": "Invoice charged twice",
        "description": "The November invoice charges the subscription twice.",
        "invoiceId": gid(world.invoice),
        "financialImpact": {"amount": amount, "currency": "USD"},
        **extra,
    }


_COUNTED = (
    "service_requests",
    "request_events",
    "comments",
    "audit_entries",
    "idempotency_keys",
    "approvals",
)


async def counts(engine: AsyncEngine) -> dict[str, Any]:
    """Row counts of what a mutation writes, plus every request's version and the disputed invoices."""
    async with engine.connect() as conn:
        result: dict[str, Any] = {
            table: (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            for table in _COUNTED
        }
        result["versions"] = (
            await conn.execute(
                text("SELECT coalesce(array_agg(version ORDER BY id), '{}') FROM service_requests")
            )
        ).scalar_one()
        result["disputed"] = (
            await conn.execute(
                text("SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM invoices WHERE disputed")
            )
        ).scalar_one()
        result["statuses"] = (
            await conn.execute(
                text("SELECT coalesce(array_agg(status ORDER BY id), '{}') FROM service_requests")
            )
        ).scalar_one()
    return result


async def events_of(engine: AsyncEngine, request_gid: str) -> list[dict[str, Any]]:
    """The request's events, oldest first, as plain dicts."""
    from schema import ids

    _, pk = ids.decode(request_gid)
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT kind, from_status, to_status, comment_id, actor_subject, details, team_id "
                "FROM request_events WHERE request_id = :id ORDER BY id"
            ),
            {"id": pk},
        )
        return [dict(r._mapping) for r in rows]


async def audit_of(
    engine: AsyncEngine, entity_type: str, entity_gid_or_id: str | int
) -> list[dict[str, Any]]:
    from schema import ids

    pk = entity_gid_or_id if isinstance(entity_gid_or_id, int) else ids.decode(entity_gid_or_id)[1]
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT action, actor_subject, before, after FROM audit_entries "
                "WHERE entity_type = :t AND entity_id = :id ORDER BY sequence"
            ),
            {"t": entity_type, "id": str(pk)},
        )
        return [dict(r._mapping) for r in rows]
