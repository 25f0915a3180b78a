"""Fixtures of the read-side API tests: the schema, a builder, and a small two-customer world."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import strawberry
from sqlalchemy.ext.asyncio import AsyncEngine

from auth.principal import Principal
from domain.enums import ApprovalLevel, Role
from records.rows import CustomerRow, InvoiceRow, PaymentRow, RequestRow, StaffRow, TeamRow
from server.schema import build_schema
from tests.support.builders import Builder
from tests.support.graphql import (
    GraphQLResult,
    customer_principal,
    execute,
    partner_principal,
    staff_principal,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def schema() -> strawberry.Schema:
    return build_schema()


@pytest.fixture
def b(engine: AsyncEngine) -> Builder:
    return Builder(engine, now=NOW)


Run = Callable[..., Any]


@pytest.fixture
def run(schema: strawberry.Schema, engine: AsyncEngine) -> Run:
    """`await run(query, principal, clock=..., **variables)` -> GraphQLResult."""

    async def _run(
        query: str, principal: Principal | None, clock: Callable[[], datetime] = lambda: NOW, **variables: Any
    ) -> GraphQLResult:
        return await execute(schema, engine, query, principal, variables or None, clock=clock)

    return _run


@dataclass
class World:
    """Two customers with an invoice, a payment and a request each; staff; a partner linked to A."""

    a: CustomerRow
    b: CustomerRow
    inv_a: InvoiceRow
    inv_b: InvoiceRow
    pay_a: PaymentRow
    pay_b: PaymentRow
    sr_a: RequestRow
    sr_b: RequestRow
    team: TeamRow
    agent: StaffRow
    supervisor: StaffRow
    partner_id: int

    def agent_p(self) -> Principal:
        return staff_principal(self.agent.id, self.agent.email, Role.AGENT)

    def supervisor_p(self) -> Principal:
        return staff_principal(
            self.supervisor.id, self.supervisor.email, Role.SUPERVISOR, ApprovalLevel.SUPERVISOR
        )

    def customer_a(self) -> Principal:
        return customer_principal(self.a.id)

    def partner(self) -> Principal:
        return partner_principal(self.partner_id, frozenset({self.a.id}))


@pytest.fixture
async def world(b: Builder) -> World:
    team = await b.team(name="Billing")
    agent = await b.staff(name="Ada Agent", teams=[team], skills=["BILLING_DISPUTE"])
    supervisor = await b.staff(
        name="Sam Supervisor", role="SUPERVISOR", approval_level="SUPERVISOR", teams=[team]
    )
    a = await b.customer(name="Acme Corp", credit_limit="10000.00")
    c_b = await b.customer(name="Bolt Ltd", credit_limit="20000.00", risk_rating="HIGH")
    inv_a = await b.invoice(customer=a, amount="9850.00", outstanding="9850.00")
    inv_b = await b.invoice(customer=c_b, amount="500.00", outstanding="200.00")
    pay_a = await b.payment(customer=a)
    pay_b = await b.payment(customer=c_b, invoice=inv_b, amount="300.00")
    sr_a = await b.request(
        customer=a,
        invoice=inv_a,
        team=team,
        assignee=agent,
        subject="Disputed freight charge",
        financial_impact="250",
    )
    sr_b = await b.request(customer=c_b, invoice=inv_b, payment=pay_b, team=team, subject="Wrong VAT rate")
    partner_id = await b.partner(customers=[a])
    return World(a, c_b, inv_a, inv_b, pay_a, pay_b, sr_a, sr_b, team, agent, supervisor, partner_id)
