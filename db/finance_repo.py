"""Approval, adjustment and payment writes (keyword-only async functions).

Lock order in every finance transaction: the service request row first
(db.requests_repo.lock_request), then the approval, then the payment, then
invoices in id order. Everything here runs inside the caller's unit of work;
nothing commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.queries.financial_health import financial_health
from db.tables import ADJUSTMENTS, APPROVALS, DECISIONS, INVOICES, PAYMENTS, columns
from domain.enums import InvoiceStatus
from domain.errors import DomainError, UserErrorCode
from domain.invoices import invoice_status
from domain.rules import RiskRules
from records.rows import AdjustmentRow, ApprovalRow, DecisionRow, InvoiceRow, PaymentRow

__all__ = [
    "approval_request_id",
    "constraint_error",
    "consume_approval",
    "customer_dscr",
    "decisions_of",
    "insert_adjustment",
    "insert_approval",
    "insert_decision",
    "invoice_audit",
    "lock_approval",
    "lock_invoices",
    "lock_payment",
    "set_approval_status",
    "set_invoice_outstanding",
    "set_payment_invoice",
]

A = APPROVALS.c


async def approval_request_id(session: AsyncSession, *, approval_id: int) -> int | None:
    """The request an approval belongs to, read without a lock (it never changes), so that the
    caller can lock the request before the approval."""
    return await session.scalar(select(A.request_id).where(A.id == approval_id))


async def lock_approval(session: AsyncSession, *, approval_id: int) -> ApprovalRow | None:
    """The approval, locked FOR UPDATE (lock the request first)."""
    stmt = select(*columns(APPROVALS, ApprovalRow)).where(A.id == approval_id).with_for_update()
    found = (await session.execute(stmt)).mappings().first()
    return ApprovalRow.of(found) if found is not None else None


async def decisions_of(session: AsyncSession, *, approval_id: int) -> list[DecisionRow]:
    """The decisions taken on an approval so far, oldest first."""
    stmt = (
        select(*columns(DECISIONS, DecisionRow))
        .where(DECISIONS.c.approval_id == approval_id)
        .order_by(DECISIONS.c.id)
    )
    return [DecisionRow.of(r) for r in (await session.execute(stmt)).mappings()]


async def insert_approval(session: AsyncSession, *, values: Mapping[str, Any]) -> ApprovalRow:
    """A new approval; the row as written."""
    stmt = insert(APPROVALS).values(**values).returning(*columns(APPROVALS, ApprovalRow))
    return ApprovalRow.of((await session.execute(stmt)).mappings().one())


async def insert_decision(
    session: AsyncSession,
    *,
    approval_id: int,
    approver_id: int,
    decision: str,
    comment: str | None,
    now: Any,
) -> DecisionRow:
    """Record one approver's decision (unique per approval and approver at rest)."""
    stmt = (
        insert(DECISIONS)
        .values(
            approval_id=approval_id,
            approver_id=approver_id,
            decision=decision,
            comment=comment,
            decided_at=now,
        )
        .returning(*columns(DECISIONS, DecisionRow))
    )
    return DecisionRow.of((await session.execute(stmt)).mappings().one())


async def set_approval_status(
    session: AsyncSession, *, approval_id: int, status: str, now: Any
) -> ApprovalRow:
    """Close an approval as APPROVED or REJECTED."""
    stmt = (
        update(APPROVALS)
        .where(A.id == approval_id)
        .values(status=status, decided_at=now)
        .returning(*columns(APPROVALS, ApprovalRow))
    )
    return ApprovalRow.of((await session.execute(stmt)).mappings().one())


async def consume_approval(session: AsyncSession, *, approval_id: int, amount: Decimal) -> ApprovalRow:
    """Add `amount` to what the approval has covered so far. Callers hold the approval's lock and
    checked the remaining amount; the CHECK consumed_amount <= amount is the last line of defence."""
    stmt = (
        update(APPROVALS)
        .where(A.id == approval_id)
        .values(consumed_amount=A.consumed_amount + amount)
        .returning(*columns(APPROVALS, ApprovalRow))
    )
    return ApprovalRow.of((await session.execute(stmt)).mappings().one())


async def lock_payment(session: AsyncSession, *, payment_id: int) -> PaymentRow | None:
    """The payment, locked FOR UPDATE (after the request and the approval, before invoices)."""
    stmt = select(*columns(PAYMENTS, PaymentRow)).where(PAYMENTS.c.id == payment_id).with_for_update()
    found = (await session.execute(stmt)).mappings().first()
    return PaymentRow.of(found) if found is not None else None


async def lock_invoices(session: AsyncSession, *, invoice_ids: Iterable[int]) -> dict[int, InvoiceRow]:
    """The invoices that exist among `invoice_ids`, locked FOR UPDATE in id order (no deadlocks
    between two postings touching the same pair)."""
    wanted = sorted(set(invoice_ids))
    if not wanted:
        return {}
    stmt = (
        select(*columns(INVOICES, InvoiceRow))
        .where(INVOICES.c.id.in_(wanted))
        .order_by(INVOICES.c.id)
        .with_for_update()
    )
    rows = [InvoiceRow.of(r) for r in (await session.execute(stmt)).mappings()]
    return {row.id: row for row in rows}


async def set_invoice_outstanding(
    session: AsyncSession, *, invoice_id: int, outstanding: Decimal
) -> InvoiceRow:
    """Store an invoice's new outstanding amount (its status is derived from it)."""
    stmt = (
        update(INVOICES)
        .where(INVOICES.c.id == invoice_id)
        .values(outstanding=outstanding)
        .returning(*columns(INVOICES, InvoiceRow))
    )
    return InvoiceRow.of((await session.execute(stmt)).mappings().one())


def invoice_audit(row: InvoiceRow, *, today: date) -> dict[str, Any]:
    """The audit view of an invoice's balance: outstanding and the status derived from it."""
    status: InvoiceStatus = invoice_status(
        voided=row.voided, amount=row.amount, outstanding=row.outstanding, due_on=row.due_on, today=today
    )
    return {"outstanding": row.outstanding, "currency": row.currency, "status": status.value}


async def insert_adjustment(session: AsyncSession, *, values: Mapping[str, Any]) -> AdjustmentRow:
    """A new adjustment; the row as written."""
    stmt = insert(ADJUSTMENTS).values(**values).returning(*columns(ADJUSTMENTS, AdjustmentRow))
    return AdjustmentRow.of((await session.execute(stmt)).mappings().one())


async def set_payment_invoice(
    session: AsyncSession, *, payment_id: int, invoice_id: int | None, status: str
) -> PaymentRow:
    """Link the payment to an invoice (POSTED) or leave it on the account (UNAPPLIED)."""
    stmt = (
        update(PAYMENTS)
        .where(PAYMENTS.c.id == payment_id)
        .values(invoice_id=invoice_id, status=status)
        .returning(*columns(PAYMENTS, PaymentRow))
    )
    return PaymentRow.of((await session.execute(stmt)).mappings().one())


async def customer_dscr(session: AsyncSession, *, customer_id: int, rules: RiskRules) -> Decimal | None:
    """The DSCR of the customer's latest financial statement (None without one)."""
    conn = await session.connection()
    health = (await financial_health(conn, [customer_id], rules)).get(customer_id)
    return None if health is None else health.dscr


# Constraint names (db.models naming convention) and the business rule each one backs.
_CONSTRAINT_RULES = {
    "ck_approvals_consumed_within": DomainError(
        UserErrorCode.APPROVAL_REQUIRED,
        "the approval's remaining amount does not cover this amount",
        ("input", "approvalId"),
    ),
    "ck_invoices_outstanding_not_negative": DomainError(
        UserErrorCode.AMOUNT_EXCEEDS_OUTSTANDING,
        "the amount exceeds the invoice's outstanding amount",
        ("input", "amount", "amount"),
    ),
    "uq_approval_decisions_approval_approver": DomainError(
        UserErrorCode.SEGREGATION_OF_DUTIES, "the approvals of one approval come from distinct people"
    ),
}


def constraint_error(exc: IntegrityError) -> DomainError | None:
    """The business rule a violated database constraint stands for (the last line of defence
    behind the locked checks), or None for any other integrity error."""
    name = getattr(getattr(exc.orig, "__cause__", None), "constraint_name", None) or getattr(
        exc.orig, "constraint_name", None
    )
    if name is None:
        text = str(exc.orig)
        name = next((n for n in _CONSTRAINT_RULES if n in text), None)
    return _CONSTRAINT_RULES.get(name) if name is not None else None
