"""Fixtures of the SLA engine tests: real uvicorn servers with their workers on (several at
once against one database), short SLA policies imported through the master-data import, a
small organisation, and GraphQL over HTTP with real tokens."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from db.engine import make_sessionmaker
from importer.master_data import import_master_data
from records.rows import CustomerRow, InvoiceRow, StaffRow, TeamRow
from server.app import create_app
from server.settings import Settings
from server.sla_engine import SlaEngine
from tests.conftest import Tokens, bearer
from tests.support.builders import Builder, gid
from tests.support.live import serving_asgi

ROUTING_TEAMS = (
    "Billing",
    "Cash Application",
    "Credit",
    "Customer Master",
    "Customer Service",
    "Finance Escalations",
)
REQUEST_FIELDS = "id number status priority version escalated team { name } sla { state resolutionDueAt }"
SLA_KINDS = ("SLA_AT_RISK", "SLA_BREACHED")


def utcnow() -> datetime:
    return datetime.now(UTC)


async def import_policies(engine: AsyncEngine, first_response: str, resolution: str) -> None:
    """Every STANDARD policy (no contract: STANDARD tier) set to the given ISO-8601 targets, 24x7."""
    data = {
        "slaPolicies": [
            {
                "tier": "STANDARD",
                "priority": priority,
                "firstResponse": first_response,
                "resolution": resolution,
                "calendar": None,
            }
            for priority in ("LOW", "MEDIUM", "HIGH", "URGENT")
        ]
    }
    async with make_sessionmaker(engine)() as session, session.begin():
        await import_master_data(session, data)


@dataclass
class World:
    acme: CustomerRow
    invoice: InvoiceRow
    teams: dict[str, TeamRow]
    ana: StaffRow  # AGENT in Billing
    eve: StaffRow  # AGENT in Finance Escalations


@pytest.fixture
async def world(engine: AsyncEngine) -> World:
    b = Builder(engine, now=utcnow())
    teams = {name: await b.team(name=name) for name in ROUTING_TEAMS}
    skills = ["BILLING_DISPUTE", "INVOICE_CORRECTION", "GENERAL_INQUIRY"]
    ana = await b.staff(name="Ana", email="ana@example.com", skills=skills, teams=[teams["Billing"]])
    eve = await b.staff(
        name="Eve", email="eve@example.com", skills=skills, teams=[teams["Finance Escalations"]]
    )
    await b.staff(name="Sue", email="sup@example.com", role="SUPERVISOR", approval_level="SUPERVISOR")
    acme = await b.customer(name="Acme", external_ref="C-1001")
    invoice = await b.invoice(
        customer=acme, amount="9850.00", issued_on=(utcnow() - timedelta(days=10)).date()
    )
    return World(acme=acme, invoice=invoice, teams=teams, ana=ana, eve=eve)


def dispute(world: World, amount: str = "1200.00") -> dict[str, Any]:
    """A createServiceRequest input: a billing dispute (priority MEDIUM, team Billing, agent Ana)."""
    return {
        "customerId": gid(world.acme),
        "type": "BILLING_DISPUTE",
        "channel": "PORTAL",
        "subject": "Invoice charged twice",
        "description": "The November invoice charges the subscription twice.",
        "invoiceId": gid(world.invoice),
        "financialImpact": {"amount": amount, "currency": "USD"},
    }


_INPUTS = {
    "createServiceRequest": "CreateServiceRequestInput",
    "triageServiceRequest": "TriageServiceRequestInput",
    "startWork": "TransitionServiceRequestInput",
    "requestCustomerInfo": "TransitionServiceRequestInput",
    "provideCustomerInfo": "TransitionServiceRequestInput",
    "resolveServiceRequest": "ResolveServiceRequestInput",
}


class Api:
    """GraphQL over HTTP against one server, as a staff member with a real token."""

    def __init__(self, client: httpx.AsyncClient, tokens: Tokens) -> None:
        self.client, self.tokens = client, tokens

    async def mutate(
        self, mutation: str, input: dict[str, Any], who: str = "sup@example.com"
    ) -> dict[str, Any]:
        role = "SUPERVISOR" if who.startswith("sup") else "AGENT"
        query = (
            f"mutation($input: {_INPUTS[mutation]}!) {{ {mutation}(input: $input) "
            f"{{ serviceRequest {{ {REQUEST_FIELDS} }} userErrors {{ code message }} }} }}"
        )
        response = await self.client.post(
            "/graphql",
            json={"query": query, "variables": {"input": input}},
            headers=bearer(self.tokens.staff(who, role)),
        )
        body = response.json()
        assert not body.get("errors"), body
        payload: dict[str, Any] = body["data"][mutation]
        assert payload["userErrors"] == [], payload
        request: dict[str, Any] = payload["serviceRequest"]
        return request

    async def create(self, input: dict[str, Any]) -> dict[str, Any]:
        return await self.mutate("createServiceRequest", input, who="ana@example.com")

    async def act(self, mutation: str, request: dict[str, Any], **input: Any) -> dict[str, Any]:
        return await self.mutate(
            mutation, {"id": request["id"], "expectedVersion": request["version"], **input}
        )


@dataclass
class Server:
    url: str
    app: Starlette
    api: Api

    @property
    def sla_engine(self) -> SlaEngine:
        engine: SlaEngine = self.app.state.workers.sla_engine
        return engine


@asynccontextmanager
async def _serve(settings: Settings, tokens: Tokens, clock: Callable[[], datetime]) -> AsyncIterator[Server]:
    app = create_app(settings, clock=clock)
    async with serving_asgi(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        yield Server(url, app, Api(client, tokens))


StartServers = Callable[..., Awaitable[list[Server]]]


@pytest.fixture
async def start_servers(db_url: str, tokens: Tokens) -> AsyncIterator[StartServers]:
    """`await start_servers(n, clock=...)`: n uvicorn servers with their workers on (SLA engine,
    event hub), all on this test's database; stopped at the end of the test."""
    async with AsyncExitStack() as stack:

        async def start(n: int = 1, *, clock: Callable[[], datetime] = utcnow) -> list[Server]:
            settings = Settings(DATABASE_URL=db_url, CASEGRAPH_ENV="test", CASEGRAPH_WORKERS=True)
            return [await stack.enter_async_context(_serve(settings, tokens, clock)) for _ in range(n)]

        yield start


async def wait_for(
    probe: Callable[[], Awaitable[bool]], *, within: float, interval: float = 0.05, what: str = "condition"
) -> None:
    """Poll `probe` (the test polls, the engine never does) until true or fail after `within` s."""
    deadline = time.monotonic() + within
    while not await probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(interval)


async def events_of(engine: AsyncEngine, request_id: int) -> list[dict[str, Any]]:
    """Every event of a request in stream order."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT kind, sla_target, due_at, occurred_at, actor_subject, from_status, to_status, "
                "details FROM request_events WHERE request_id = :r ORDER BY txid, id"
            ),
            {"r": request_id},
        )
        return [dict(row) for row in rows.mappings()]


async def sla_events(engine: AsyncEngine, request_id: int) -> list[dict[str, Any]]:
    return [e for e in await events_of(engine, request_id) if e["kind"] in SLA_KINDS]


async def request_row(engine: AsyncEngine, request_id: int) -> dict[str, Any]:
    async with engine.connect() as conn:
        row = (
            await conn.execute(text("SELECT * FROM service_requests WHERE id = :r"), {"r": request_id})
        ).mappings()
        return dict(row.one())
