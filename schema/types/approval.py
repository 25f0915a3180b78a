"""Approvals (maker-checker): Approval, ApprovalDecision and the approvals query."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from domain.enums import ApprovalKind, ApprovalLevel, ApprovalStatus, Decision
from records.rows import ApprovalRow, DecisionRow
from schema import ids
from schema.context import TypeContext
from schema.types.money import Money, optional_money
from schema.types.node import Node
from schema.types.ready import now_or_later, required
from schema.types.refs import AgentRef, ServiceRequestRef

__all__ = ["Approval", "ApprovalDecision"]

Ctx = Info[TypeContext, None]


def _agent(info: Ctx, staff_id: int) -> AgentRef:
    """The staff member (synchronous when the loader holds the row: see schema.types.ready)."""
    from schema.types.agent import Agent

    return required(info.context.loaders.staff, staff_id, Agent.from_row)


@strawberry.type
class ApprovalDecision:
    row: strawberry.Private[DecisionRow]
    decision: Decision
    comment: str | None
    decided_at: datetime

    @strawberry.field
    def approver(self, info: Ctx) -> AgentRef:
        return _agent(info, self.row.approver_id)


@strawberry.type
class Approval(Node):
    row: strawberry.Private[ApprovalRow]
    kind: ApprovalKind
    required_level: ApprovalLevel = strawberry.field(
        description="Lowest level allowed to decide, from the approval matrix."
    )
    required_approvals: int = strawberry.field(description="How many distinct approvers must APPROVE.")
    status: ApprovalStatus
    justification: str
    requested_at: datetime

    @classmethod
    def from_row(cls, row: ApprovalRow) -> Approval:
        return cls(
            id=strawberry.ID(ids.encode("Approval", row.id)),
            row=row,
            kind=ApprovalKind(row.kind),
            required_level=ApprovalLevel(row.required_level),
            required_approvals=row.required_approvals,
            status=ApprovalStatus(row.status),
            justification=row.justification,
            requested_at=row.requested_at,
        )

    @strawberry.field
    def service_request(self, info: Ctx) -> ServiceRequestRef:
        from schema.types.request import ServiceRequest

        return required(info.context.loaders.service_request, self.row.request_id, ServiceRequest.from_row)

    @strawberry.field
    def amount(self) -> Money | None:
        return optional_money(self.row.amount, self.row.currency)

    @strawberry.field
    def requested_by(self, info: Ctx) -> AgentRef:
        return _agent(info, self.row.requested_by_id)

    @strawberry.field
    def decisions(self, info: Ctx) -> list[ApprovalDecision]:
        return now_or_later(info.context.loaders.decisions_by_approval, self.row.id, _decisions)


def _decisions(rows: list[DecisionRow]) -> list[ApprovalDecision]:
    return [
        ApprovalDecision(row=r, decision=Decision(r.decision), comment=r.comment, decided_at=r.decided_at)
        for r in rows
    ]
