"""ServiceRequest and what hangs off it: resolution and the transitions the viewer may perform."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from auth.permissions import Capability, transition_capability
from domain.enums import (
    OPEN_STATUSES,
    Channel,
    Priority,
    RequestStatus,
    RequestType,
    ResolutionCode,
    TransitionAction,
)
from domain.enums import ApprovalStatus as ApprovalStatusEnum
from domain.lifecycle import Actor, allowed_actions
from domain.rules import LifecycleRules
from records.rows import RequestRecord
from schema import ids
from schema.context import TypeContext
from schema.pagination import Connection, PageArgs
from schema.types.money import Money, optional_money
from schema.types.node import Node
from schema.types.ready import now_or_later, optional, required
from schema.types.refs import (
    AdjustmentRef,
    AgentRef,
    ApprovalRef,
    AttachmentRef,
    CommentRef,
    ContactRef,
    CustomerRef,
    InvoiceRef,
    PaymentRef,
    RequestEventRef,
    ServiceRequestRef,
    SlaRef,
    TeamRef,
)

__all__ = ["Resolution", "ServiceRequest", "Transition"]

Ctx = Info[TypeContext, None]
_DONE = frozenset({RequestStatus.RESOLVED, RequestStatus.CLOSED})


@strawberry.type
class Resolution:
    code: ResolutionCode
    summary: str
    resolved_at: datetime
    resolved_by_id: strawberry.Private[int]

    @strawberry.field
    def resolved_by(self, info: Ctx) -> AgentRef:
        from schema.types.agent import Agent

        return required(info.context.loaders.staff, self.resolved_by_id, Agent.from_row)


@strawberry.type(
    description="The viewer may perform this transition now; rendered as buttons by agent consoles."
)
class Transition:
    action: TransitionAction
    to_status: RequestStatus


@strawberry.type
class ServiceRequest(Node):
    record: strawberry.Private[RequestRecord]
    number: str = strawberry.field(description="Human-readable, unique, e.g. SR-000123.")
    type: RequestType
    channel: Channel
    subject: str
    description: str
    priority: Priority
    status: RequestStatus
    escalated: bool
    created_at: datetime
    updated_at: datetime
    version: int = strawberry.field(
        description="Incremented on every change; pass it back as expectedVersion."
    )

    @classmethod
    def from_row(cls, record: RequestRecord) -> ServiceRequest:
        r = record.request
        return cls(
            id=strawberry.ID(ids.encode("ServiceRequest", r.id)),
            record=record,
            number=r.number,
            type=RequestType(r.type),
            channel=Channel(r.channel),
            subject=r.subject,
            description=r.description,
            priority=Priority(r.priority),
            status=RequestStatus(r.status),
            escalated=r.escalated,
            created_at=r.created_at,
            updated_at=r.updated_at,
            version=r.version,
        )

    @property
    def pk(self) -> int:
        return self.record.request.id

    # The relation fields are synchronous: see schema.types.ready (a page prefetches their rows).

    @strawberry.field
    def customer(self, info: Ctx) -> CustomerRef:
        from schema.types.customer import Customer

        return required(info.context.loaders.customer, self.record.request.customer_id, Customer.from_row)

    @strawberry.field(description="Amount in question (disputed amount, requested credit change...).")
    def financial_impact(self) -> Money | None:
        r = self.record.request
        return optional_money(r.financial_impact_amount, r.financial_impact_currency)

    @strawberry.field
    def invoice(self, info: Ctx) -> InvoiceRef | None:
        from schema.types.invoice import Invoice

        invoice_id = self.record.request.invoice_id
        if invoice_id is None:
            return None
        return optional(info.context.loaders.invoice, invoice_id, Invoice.from_row)

    @strawberry.field
    def payment(self, info: Ctx) -> PaymentRef | None:
        from schema.types.invoice import Payment

        payment_id = self.record.request.payment_id
        if payment_id is None:
            return None
        return optional(info.context.loaders.payment, payment_id, Payment.from_row)

    @strawberry.field
    def team(self, info: Ctx) -> TeamRef | None:
        from schema.types.agent import Team

        team_id = self.record.request.team_id
        # The staff directory is internal (READ_TEAMS): restricted fields resolve to null.
        if team_id is None or not info.context.can(Capability.READ_TEAMS):
            return None
        return optional(info.context.loaders.team, team_id, Team.from_row)

    @strawberry.field
    def assignee(self, info: Ctx) -> AgentRef | None:
        from schema.types.agent import Agent

        staff_id = self.record.request.assignee_id
        if staff_id is None or not info.context.can(Capability.READ_TEAMS):
            return None
        return optional(info.context.loaders.staff, staff_id, Agent.from_row)

    @strawberry.field
    def sla(self, info: Ctx) -> SlaRef:
        from schema.types.sla import sla_of

        return sla_of(info.context, self.record)

    @strawberry.field
    def approvals(self, info: Ctx) -> list[ApprovalRef]:
        from schema.types.approval import Approval

        if not info.context.can(Capability.READ_APPROVALS):
            return []
        return now_or_later(
            info.context.loaders.approvals_by_request,
            self.pk,
            lambda rows: [Approval.from_row(r) for r in rows],
        )

    @strawberry.field
    def adjustments(self, info: Ctx) -> list[AdjustmentRef]:
        from schema.types.invoice import Adjustment

        return now_or_later(
            info.context.loaders.adjustments_by_request,
            self.pk,
            lambda rows: [Adjustment.from_row(r) for r in rows],
        )

    @strawberry.field(
        description="The request this one was closed as a duplicate of (markDuplicate); null otherwise."
    )
    def duplicate_of(self, info: Ctx) -> ServiceRequestRef | None:
        original_id = self.record.request.duplicate_of_id
        if original_id is None:
            return None
        # Read within the caller's customers (the loader's scope).
        return optional(info.context.loaders.service_request, original_id, ServiceRequest.from_row)

    @strawberry.field(description="The contact who asked by mail (EMAIL.md); null for other channels.")
    def requester(self, info: Ctx) -> ContactRef | None:
        from schema.types.mail import Contact

        def build(rows: list[Any]) -> Contact | None:
            return Contact.from_row(rows[0]) if rows else None

        return now_or_later(info.context.loaders.requester_by_request, self.pk, build)

    @strawberry.field(
        description="Files received by mail for this request (INTERNAL comments' for staff only)."
    )
    async def attachments(self, info: Ctx) -> list[AttachmentRef]:
        from schema.types.mail import visible_attachments

        rows = await info.context.loaders.attachments_by_request.load(self.pk)
        return await visible_attachments(info, rows)

    @strawberry.field
    def resolution(self) -> Resolution | None:
        r = self.record.request
        if self.status not in _DONE or r.resolution_code is None or r.resolved_at is None:
            return None
        if r.resolved_by_id is None:
            return None
        return Resolution(
            code=ResolutionCode(r.resolution_code),
            summary=r.resolution_summary or "",
            resolved_at=r.resolved_at,
            resolved_by_id=r.resolved_by_id,
        )

    @strawberry.field(description="INTERNAL comments are omitted for CUSTOMER and PARTNER callers.")
    async def comments(
        self, info: Ctx, first: int | None = None, after: str | None = None
    ) -> Connection[CommentRef]:
        return await info.context.connections.comments(PageArgs(first, after), request_id=self.pk)

    @strawberry.field(description="The request's timeline, oldest first.")
    async def events(
        self, info: Ctx, first: int | None = None, after: str | None = None
    ) -> Connection[RequestEventRef]:
        return await info.context.connections.events(PageArgs(first, after), request_id=self.pk)

    @strawberry.field(description="Transitions the viewer may perform now.")
    async def available_transitions(self, info: Ctx) -> list[Transition]:
        ctx = info.context
        # The stored rules, as the mutations apply them (a configured reopen window, ...).
        rules = await ctx.loaders.business_rules()
        pending = False
        if self.status in OPEN_STATUSES:
            approvals = await ctx.loaders.approvals_by_request.load(self.pk)
            pending = any(a.status == ApprovalStatusEnum.PENDING for a in approvals)
        return self._transitions(ctx, pending=pending, rules=rules.lifecycle)

    def _transitions(self, ctx: TypeContext, *, pending: bool, rules: LifecycleRules) -> list[Transition]:
        """The transitions the viewer may perform, given whether an approval is pending."""
        p = ctx.principal
        facts = self.record.request.lifecycle_facts(has_pending_approval=pending)
        # The request was read within the caller's customers: they act for its customer.
        actor = Actor(roles=p.roles, staff_id=p.staff_id)
        return [
            Transition(action=action, to_status=to_status)
            for action, to_status in allowed_actions(request=facts, actor=actor, now=ctx.now(), rules=rules)
            if ctx.can(transition_capability(action))
        ]
