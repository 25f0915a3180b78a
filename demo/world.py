"""What the demo request generator needs to know of the stored master data, read once."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from demo.data import contact_email
from domain.enums import RequestType, RiskRating, Role, SlaTier

__all__ = ["Agent", "CustomerRef", "InvoiceRef", "PaymentRef", "Policy", "TeamRef", "World", "load_world"]

# Roles that work requests; auditors and the like are never routed to.
_WORKING_ROLES = (Role.AGENT, Role.SUPERVISOR, Role.FINANCE, Role.ADMIN)


@dataclass(frozen=True, slots=True)
class Agent:
    id: int
    email: str
    name: str
    role: str
    skills: frozenset[str]


@dataclass(frozen=True, slots=True)
class TeamRef:
    id: int
    name: str
    agents: tuple[Agent, ...]
    by_skill: dict[str, tuple[Agent, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, team_id: int, name: str, agents: list[Agent]) -> TeamRef:
        by_skill = {t.value: tuple(a for a in agents if t.value in a.skills) for t in RequestType}
        return cls(team_id, name, tuple(agents), by_skill)


@dataclass(frozen=True, slots=True)
class InvoiceRef:
    id: int
    number: str
    currency: str
    outstanding: Decimal
    issued_on: date


@dataclass(frozen=True, slots=True)
class PaymentRef:
    id: int
    reference: str
    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class CustomerRef:
    id: int
    external_ref: str
    name: str
    tier: SlaTier | None
    risk: RiskRating
    kyc_verified: bool
    dscr: Decimal | None
    currency: str
    dispute_window_days: int
    invoices: tuple[InvoiceRef, ...]
    payments: tuple[PaymentRef, ...]
    partner: tuple[str, str] | None  # (client id, name) of a linked partner

    @property
    def contact(self) -> str:
        """The token subject of the customer's accounts-payable contact (invented)."""
        return contact_email(self.external_ref)


@dataclass(frozen=True, slots=True)
class Policy:
    id: int
    first_response_seconds: int
    resolution_seconds: int


@dataclass(frozen=True)
class World:
    customers: tuple[CustomerRef, ...]
    teams: dict[str, TeamRef]
    policies: dict[tuple[str, str], Policy]
    usd_rates: dict[str, Decimal]


async def _rows(conn: AsyncConnection, sql: str, **params: Any) -> list[Any]:
    return list((await conn.execute(text(sql), params)).all())


async def load_world(conn: AsyncConnection, *, today: date, default_dispute_window_days: int) -> World:
    """Customers with their contract tier, open invoices, payments and partner; teams with
    their active working members; SLA policies; exchange rates."""
    invoices: dict[int, list[InvoiceRef]] = defaultdict(list)
    for r in await _rows(
        conn,
        "SELECT customer_id, id, number, currency, outstanding, issued_on FROM invoices "
        "WHERE NOT voided ORDER BY issued_on, id",
    ):
        invoices[r[0]].append(InvoiceRef(r[1], r[2], r[3], r[4], r[5]))
    payments: dict[int, list[PaymentRef]] = defaultdict(list)
    for r in await _rows(
        conn, "SELECT customer_id, id, reference, amount, currency FROM payments ORDER BY id"
    ):
        payments[r[0]].append(PaymentRef(r[1], r[2], r[3], r[4]))
    partners = {
        r[0]: (r[1], r[2])
        for r in await _rows(
            conn,
            "SELECT pc.customer_id, p.client_id, p.name FROM partner_customers pc "
            "JOIN partners p ON p.id = pc.partner_id WHERE p.active ORDER BY p.id",
        )
    }
    customers = []
    for r in await _rows(
        conn,
        "SELECT c.id, c.external_ref, c.name, k.sla_tier, c.risk_rating, c.kyc_status, "
        "c.credit_limit_currency, k.dispute_window_days, f.dscr FROM customers c "
        "LEFT JOIN LATERAL (SELECT sla_tier, dispute_window_days FROM contracts WHERE customer_id = c.id "
        "  AND starts_on <= :today AND (ends_on IS NULL OR ends_on >= :today) ORDER BY starts_on DESC LIMIT 1"
        ") k ON true "
        "LEFT JOIN LATERAL (SELECT net_operating_income / total_debt_service AS dscr "
        "  FROM financial_statements WHERE customer_id = c.id ORDER BY as_of DESC LIMIT 1) f ON true "
        "ORDER BY c.id",
        today=today,
    ):
        own = invoices.get(r[0], [])
        currency = r[6] or (own[0].currency if own else "USD")
        customers.append(
            CustomerRef(
                id=r[0],
                external_ref=r[1],
                name=r[2],
                tier=SlaTier(r[3]) if r[3] else None,
                risk=RiskRating(r[4]),
                kyc_verified=r[5] == "VERIFIED",
                dscr=r[8],
                currency=currency,
                dispute_window_days=r[7] if r[7] is not None else default_dispute_window_days,
                invoices=tuple(own),
                payments=tuple(payments.get(r[0], [])),
                partner=partners.get(r[0]),
            )
        )
    members: dict[int, list[Agent]] = defaultdict(list)
    for r in await _rows(
        conn,
        "SELECT m.team_id, s.id, s.email, s.name, s.role, s.skills FROM team_members m "
        "JOIN staff s ON s.id = m.staff_id WHERE s.active AND s.role = ANY(:roles) ORDER BY s.id",
        roles=[r.value for r in _WORKING_ROLES],
    ):
        members[r[0]].append(Agent(r[1], r[2], r[3], r[4], frozenset(r[5])))
    teams = {
        r[1]: TeamRef.of(r[0], r[1], members.get(r[0], []))
        for r in await _rows(conn, "SELECT id, name FROM teams ORDER BY id")
    }
    policies = {
        (r[1], r[2]): Policy(r[0], r[3], r[4])
        for r in await _rows(
            conn, "SELECT id, tier, priority, first_response_seconds, resolution_seconds FROM sla_policies"
        )
    }
    rates = {r[0]: r[1] for r in await _rows(conn, "SELECT currency, usd FROM exchange_rates")}
    return World(tuple(customers), teams, policies, rates)
