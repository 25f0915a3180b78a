"""`approvalRequests`: new PENDING approvals the viewer may decide (LIFECYCLE.md §4, ACCESS.md).

Each APPROVAL_REQUESTED event is checked when it is delivered, against the
approval and request as they are then (fresh loaders): still PENDING, the
viewer's approval level high enough, and the domain's segregation of duties
(not the requester, not the request's assignee, not someone who decided it).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from auth.permissions import Capability, can_decide_level
from domain.approvals import ApprovalFacts, Approver, DecisionFacts, decision_errors
from domain.enums import ApprovalLevel, ApprovalStatus, Decision, RequestEventKind
from records.events import EventRow
from resolvers.context import Context
from resolvers.subscriptions.stream import open_stream, scoped_filter, stream, visible_event
from schema.types.approval import Approval

__all__ = ["approval_requests", "may_decide"]

_REQUESTED = frozenset({RequestEventKind.APPROVAL_REQUESTED.value})


async def may_decide(ctx: Context, approval_id: int) -> Approval | None:
    """The approval if the viewer could decide it right now, else None (fresh reads)."""
    principal = ctx.principal
    row = await ctx.loaders.approval.load(approval_id)
    if row is None or row.status != ApprovalStatus.PENDING.value:
        return None
    if not can_decide_level(principal, ApprovalLevel(row.required_level)):
        return None
    record = await ctx.loaders.service_request.load(row.request_id)
    if record is None:
        return None
    decisions = await ctx.loaders.decisions_by_approval.load(row.id)
    errors = decision_errors(
        approval=ApprovalFacts(
            requested_by_id=row.requested_by_id,
            required_level=ApprovalLevel(row.required_level),
            status=ApprovalStatus(row.status),
        ),
        approver=Approver(
            roles=principal.roles, staff_id=principal.staff_id, approval_level=principal.approval_level
        ),
        request_assignee_id=record.request.assignee_id,
        prior_decisions=[
            DecisionFacts(approver_id=d.approver_id, decision=Decision(d.decision)) for d in decisions
        ],
    )
    return None if errors else Approval.from_row(row)


async def approval_requests(ctx: Context) -> AsyncGenerator[Approval, None]:
    """Live from now: approvals requested from here on that the viewer may decide."""
    ctx.require(Capability.SUBSCRIBE_APPROVALS)
    hub_filter = scoped_filter(ctx, kinds=_REQUESTED)

    async def build(row: EventRow) -> Approval | None:
        if row.approval_id is None or not await visible_event(ctx, row):
            return None
        return await may_decide(ctx, row.approval_id)

    return stream(ctx, open_stream(ctx, after=None, flt=hub_filter), build)
