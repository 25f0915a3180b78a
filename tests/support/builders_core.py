"""Test-data builders, part one: infrastructure, customers, receivables, staff (see builders.py)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from db import models as m
from db.tables import (
    CONTRACTS,
    CUSTOMERS,
    INVOICES,
    PARTNER_CUSTOMERS,
    PAYMENTS,
    POLICIES,
    STAFF,
    TEAM_MEMBERS,
    TEAMS,
    columns,
)
from records.events import EventRow
from records.rows import (
    AdjustmentRow,
    ApprovalRow,
    AuditRow,
    CommentRow,
    ContractRow,
    CustomerRow,
    InvoiceRow,
    PaymentRow,
    PolicyRow,
    RequestRow,
    Row,
    StaffRow,
    TeamRow,
)
from schema import ids

__all__ = ["Amount", "BuilderCore", "dec", "gid", "next_n"]

RowT = TypeVar("RowT", bound=Row)
_PARTNERS = cast(Table, m.Partner.__table__)
Amount = str | int | Decimal
_seq = itertools.count(1)

_TYPE_NAMES: dict[type[Row], str] = {
    CustomerRow: "Customer",
    ContractRow: "Contract",
    InvoiceRow: "Invoice",
    PaymentRow: "Payment",
    StaffRow: "Agent",
    TeamRow: "Team",
    RequestRow: "ServiceRequest",
    CommentRow: "Comment",
    ApprovalRow: "Approval",
    AdjustmentRow: "Adjustment",
    EventRow: "RequestEvent",
    PolicyRow: "SlaPolicy",
}


def gid(row: Row) -> str:
    """The global ID of a built row (AuditRow: by sequence)."""
    if isinstance(row, AuditRow):
        return ids.encode("AuditEntry", row.sequence)
    return ids.encode(_TYPE_NAMES[type(row)], row.id)  # type: ignore[attr-defined]


def next_n() -> int:
    """A number unique within the test process (for names, references, numbers)."""
    return next(_seq)


def dec(value: Amount | None) -> Decimal | None:
    """Amounts as Decimal (strings keep exactness)."""
    return None if value is None else Decimal(str(value))


class BuilderCore:
    """Inserts rows with defaults; master data, receivables and staff (requests: Builder)."""

    def __init__(self, target: AsyncEngine | AsyncConnection | AsyncSession, *, now: datetime | None = None):
        self._target = target
        self.now = now or datetime.now(UTC).replace(microsecond=0)

    async def _execute(self, stmt: Any) -> Any:
        result: Any
        if isinstance(self._target, AsyncEngine):
            async with self._target.begin() as conn:
                result = await conn.execute(stmt)
        else:
            result = await self._target.execute(stmt)
        return result.mappings().all() if result.returns_rows else []

    async def _insert(self, table: Table, row_type: type[RowT], values: dict[str, Any]) -> RowT:
        rows = await self._execute(insert(table).values(**values).returning(*columns(table, row_type)))
        return row_type.of(rows[0])

    # ------------------------------------------------------------ customers --

    async def customer(
        self,
        *,
        name: str | None = None,
        external_ref: str | None = None,
        segment: str = "SMB",
        country: str = "US",
        kyc_status: str = "VERIFIED",
        kyc_reviewed_at: datetime | None = None,
        risk_rating: str = "LOW",
        credit_limit: Amount | None = "50000.00",
        currency: str = "USD",
        payment_terms_days: int = 30,
    ) -> CustomerRow:
        n = next_n()
        return await self._insert(
            CUSTOMERS,
            CustomerRow,
            {
                "name": name or f"Customer {n}",
                "external_ref": external_ref or f"ERP-{n:06d}",
                "segment": segment,
                "country": country,
                "kyc_status": kyc_status,
                "kyc_reviewed_at": kyc_reviewed_at,
                "risk_rating": risk_rating,
                "credit_limit_amount": dec(credit_limit),
                "credit_limit_currency": currency if credit_limit is not None else None,
                "payment_terms_days": payment_terms_days,
            },
        )

    async def contract(
        self,
        *,
        customer: CustomerRow,
        number: str | None = None,
        sla_tier: str = "STANDARD",
        starts_on: date | None = None,
        ends_on: date | None = None,
        dispute_window_days: int = 90,
    ) -> ContractRow:
        return await self._insert(
            CONTRACTS,
            ContractRow,
            {
                "customer_id": customer.id,
                "number": number or f"CT-{next_n():06d}",
                "sla_tier": sla_tier,
                "starts_on": starts_on or (self.now.date() - timedelta(days=365)),
                "ends_on": ends_on,
                "dispute_window_days": dispute_window_days,
            },
        )

    async def partner(self, *, customers: Iterable[CustomerRow] = (), client_id: str | None = None) -> int:
        """A partner linked to `customers`; returns its id."""
        n = next_n()
        rows = await self._execute(
            insert(_PARTNERS)
            .values(client_id=client_id or f"partner-{n}", name=f"Partner {n}")
            .returning(_PARTNERS.c.id)
        )
        partner_id = int(rows[0]["id"])
        for c in customers:
            await self._execute(insert(PARTNER_CUSTOMERS).values(partner_id=partner_id, customer_id=c.id))
        return partner_id

    # ------------------------------------------------------------- invoices --

    async def invoice(
        self,
        *,
        customer: CustomerRow,
        number: str | None = None,
        amount: Amount = "1000.00",
        currency: str = "USD",
        outstanding: Amount | None = None,
        issued_on: date | None = None,
        due_on: date | None = None,
        voided: bool = False,
        disputed: bool = False,
    ) -> InvoiceRow:
        issued = issued_on or (self.now.date() - timedelta(days=10))
        return await self._insert(
            INVOICES,
            InvoiceRow,
            {
                "customer_id": customer.id,
                "number": number or f"INV-{next_n():06d}",
                "issued_on": issued,
                "due_on": due_on or (issued + timedelta(days=30)),
                "amount": dec(amount),
                "currency": currency,
                "outstanding": dec(outstanding if outstanding is not None else amount),
                "voided": voided,
                "disputed": disputed,
            },
        )

    async def payment(
        self,
        *,
        customer: CustomerRow,
        invoice: InvoiceRow | None = None,
        amount: Amount = "100.00",
        currency: str = "USD",
        received_at: datetime | None = None,
        status: str | None = None,
        reference: str | None = None,
    ) -> PaymentRow:
        return await self._insert(
            PAYMENTS,
            PaymentRow,
            {
                "customer_id": customer.id,
                "invoice_id": invoice.id if invoice else None,
                "amount": dec(amount),
                "currency": currency,
                "received_at": received_at or self.now,
                "status": status or ("POSTED" if invoice else "UNAPPLIED"),
                "reference": reference or f"PAY-{next_n():06d}",
            },
        )

    # ---------------------------------------------------------------- staff --

    async def team(self, *, name: str | None = None, members: Iterable[StaffRow] = ()) -> TeamRow:
        team = await self._insert(TEAMS, TeamRow, {"name": name or f"Team {next_n()}"})
        for member in members:
            await self.add_member(team=team, staff=member)
        return team

    async def add_member(self, *, team: TeamRow, staff: StaffRow) -> None:
        await self._execute(insert(TEAM_MEMBERS).values(team_id=team.id, staff_id=staff.id))

    async def staff(
        self,
        *,
        name: str | None = None,
        email: str | None = None,
        role: str = "AGENT",
        approval_level: str = "AGENT",
        skills: Sequence[str] = (),
        active: bool = True,
        teams: Iterable[TeamRow] = (),
    ) -> StaffRow:
        n = next_n()
        row = await self._insert(
            STAFF,
            StaffRow,
            {
                "name": name or f"Agent {n}",
                "email": (email or f"agent{n}@example.com").lower(),
                "role": role,
                "approval_level": approval_level,
                "skills": list(skills),
                "active": active,
            },
        )
        for team in teams:
            await self.add_member(team=team, staff=row)
        return row

    async def policy(self, *, tier: str = "STANDARD", priority: str = "MEDIUM") -> PolicyRow:
        """The seeded SLA policy of (tier, priority)."""
        stmt = select(*columns(POLICIES, PolicyRow)).where(
            POLICIES.c.tier == tier, POLICIES.c.priority == priority
        )
        return PolicyRow.of((await self._execute(stmt))[0])
