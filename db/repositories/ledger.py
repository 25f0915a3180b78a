"""The receivables ledger: invoices, payments and adjustments as postings change them.

Lock order: the service request first, then the approval, then the payment,
then invoices in id order (`lock_invoices`), so two postings touching the
same pair never deadlock. Everything runs inside the caller's unit of work.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import exists, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.tables import ADJUSTMENTS, INVOICES, PAYMENTS, REQUESTS, columns
from domain.enums import OPEN_STATUSES, InvoiceStatus, RequestType
from domain.invoices import invoice_status
from records.rows import AdjustmentRow, InvoiceRow, PaymentRow

__all__ = [
    "clear_dispute_unless_open",
    "insert_adjustment",
    "invoice_audit",
    "lock_invoices",
    "lock_payment",
    "set_invoice_disputed",
    "set_invoice_outstanding",
    "set_payment_invoice",
]

R = REQUESTS.c
_OPEN = [s.value for s in OPEN_STATUSES]


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


async def set_invoice_disputed(session: AsyncSession, *, invoice_id: int) -> bool:
    """Flag the invoice disputed; True when it was not flagged before."""
    stmt = (
        update(INVOICES)
        .where(INVOICES.c.id == invoice_id, INVOICES.c.disputed.is_(False))
        .values(disputed=True)
        .returning(INVOICES.c.id)
    )
    return (await session.execute(stmt)).first() is not None


async def clear_dispute_unless_open(session: AsyncSession, *, invoice_id: int, request_id: int) -> bool:
    """Clear `disputed` unless another open billing dispute remains on the invoice; True when cleared."""
    other_open = exists().where(
        R.invoice_id == invoice_id,
        R.id != request_id,
        R.type == RequestType.BILLING_DISPUTE.value,
        R.status.in_(_OPEN),
    )
    stmt = (
        update(INVOICES)
        .where(INVOICES.c.id == invoice_id, INVOICES.c.disputed.is_(True), ~other_open)
        .values(disputed=False)
        .returning(INVOICES.c.id)
    )
    return (await session.execute(stmt)).first() is not None
