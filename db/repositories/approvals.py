"""The approval aggregate: approvals and their decisions (keyword-only async functions).

Lock order in every finance transaction: the service request row first
(db.repositories.requests.lock_request), then the approval, then the payment,
then invoices in id order. Everything here runs inside the caller's unit of
work; nothing commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.tables import APPROVALS, DECISIONS, columns
from domain.enums import ApprovalStatus
from records.rows import ApprovalRow, DecisionRow

__all__ = [
    "approval_request_id",
    "cancel_pending_approvals",
    "consume_approval",
    "decisions_of",
    "insert_approval",
    "insert_decision",
    "lock_approval",
    "set_approval_status",
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


async def cancel_pending_approvals(session: AsyncSession, *, request_id: int, now: datetime) -> list[int]:
    """Mark the request's PENDING approvals CANCELLED; their ids."""
    stmt = (
        update(APPROVALS)
        .where(APPROVALS.c.request_id == request_id, APPROVALS.c.status == ApprovalStatus.PENDING.value)
        .values(status=ApprovalStatus.CANCELLED.value, decided_at=now)
        .returning(APPROVALS.c.id)
    )
    return sorted(int(i) for i in (await session.execute(stmt)).scalars())
