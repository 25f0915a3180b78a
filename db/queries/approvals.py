"""Approvals list: status filter and "decidable by the viewer", newest first, scoped by request."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from db.queries import keyset
from db.queries.keyset import KeyPart, Ordering, Page, PageRequest
from db.queries.scope import CustomerScope, in_scope
from db.tables import APPROVALS, DECISIONS, REQUESTS, columns
from domain.enums import ApprovalStatus
from records.rows import ApprovalRow

__all__ = [
    "APPROVAL_ORDER",
    "ApprovalFilter",
    "Decider",
    "count_approvals",
    "decidable_by",
    "fetch_approval_page",
]

A = APPROVALS.c
APPROVAL_ORDER = Ordering(
    "Approval:REQUESTED_AT:DESC", (KeyPart(A.requested_at, "datetime"), KeyPart(A.id, "int")), descending=True
)


@dataclass(frozen=True)
class Decider:
    """Who wants to decide: their staff id and the levels they may decide (empty: none)."""

    staff_id: int | None
    levels: frozenset[str]


@dataclass(frozen=True)
class ApprovalFilter:
    statuses: Sequence[str] | None = None
    decidable_by: Decider | None = None


def decidable_by(decider: Decider) -> ColumnElement[bool]:
    """PENDING, within the decider's level, not requested by them, not on a request assigned to
    them, and not already decided by them (segregation of duties, LIFECYCLE §4)."""
    if decider.staff_id is None or not decider.levels:
        return false()
    me = decider.staff_id
    already = exists().where(DECISIONS.c.approval_id == A.id, DECISIONS.c.approver_id == me)
    return and_(
        A.status == ApprovalStatus.PENDING.value,
        A.required_level.in_(sorted(decider.levels)),
        A.requested_by_id != me,
        or_(REQUESTS.c.assignee_id.is_(None), REQUESTS.c.assignee_id != me),
        ~already,
    )


def _base(cols: Sequence[Any], flt: ApprovalFilter, scope: CustomerScope) -> Select[Any]:
    conds: list[ColumnElement[bool]] = [in_scope(REQUESTS.c.customer_id, scope)]
    if flt.statuses is not None:
        conds.append(A.status.in_([str(s) for s in flt.statuses]))
    if flt.decidable_by is not None:
        conds.append(decidable_by(flt.decidable_by))
    return select(*cols).select_from(APPROVALS.join(REQUESTS, REQUESTS.c.id == A.request_id)).where(*conds)


async def fetch_approval_page(
    conn: AsyncConnection, *, flt: ApprovalFilter, scope: CustomerScope, page: PageRequest
) -> tuple[Page, list[ApprovalRow]]:
    """Approvals newest requested first."""
    result = await keyset.fetch_page(
        conn, _base(columns(APPROVALS, ApprovalRow), flt, scope), APPROVAL_ORDER, page
    )
    return result, [ApprovalRow.of(r) for r in result.rows]


async def count_approvals(conn: AsyncConnection, *, flt: ApprovalFilter, scope: CustomerScope) -> int:
    """totalCount of the same approval filter and scope."""
    return await keyset.count(conn, _base([A.id], flt, scope))
