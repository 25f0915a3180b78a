"""ServiceRequest and what hangs off it: resolution, available transitions, the list query."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import Any

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from db.queries.keyset import Ordering, Page, PageRequest
from db.queries.requests import (
    RequestFilter,
    count_requests,
    count_requests_by,
    fetch_request_by_number,
    fetch_request_page,
    fetch_request_pages,
    request_ordering,
)
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
from domain.lifecycle import TRANSITIONS, Actor, RequestFacts, Who, allowed_actions
from records.rows import InvoiceRow, PaymentRow, RequestRecord
from schema import ids
from schema.context import Context
from schema.enums import OrderDirection
from schema.inputs import ServiceRequestFilter, ServiceRequestOrder
from schema.pagination import Connection, Prefetch, connection, page_request
from schema.types.money import Money, optional_money
from schema.types.node import Node, load_node
from schema.types.ready import now_or_later, optional, required
from schema.types.refs import (
    AdjustmentRef,
    AgentRef,
    ApprovalRef,
    CommentRef,
    CustomerRef,
    InvoiceRef,
    PaymentRef,
    RequestEventRef,
    SlaRef,
    TeamRef,
)
from schema.types.scope import Capability, can, customer_scope, visible

__all__ = [
    "Resolution",
    "ServiceRequest",
    "Transition",
    "request_filter",
    "service_request_by_id",
    "service_request_by_number",
    "service_request_connection",
]

Ctx = Info[Context, None]
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
        ctx = info.context

        def build(row: InvoiceRow | None) -> Invoice | None:
            return Invoice.from_row(row) if row is not None and visible(ctx, row.customer_id) else None

        return now_or_later(ctx.loaders.invoice, invoice_id, build)

    @strawberry.field
    def payment(self, info: Ctx) -> PaymentRef | None:
        from schema.types.invoice import Payment

        payment_id = self.record.request.payment_id
        if payment_id is None:
            return None
        ctx = info.context

        def build(row: PaymentRow | None) -> Payment | None:
            return Payment.from_row(row) if row is not None and visible(ctx, row.customer_id) else None

        return now_or_later(ctx.loaders.payment, payment_id, build)

    @strawberry.field
    def team(self, info: Ctx) -> TeamRef | None:
        from schema.types.agent import Team

        team_id = self.record.request.team_id
        # The staff directory is internal (READ_TEAMS): restricted fields resolve to null.
        if team_id is None or not can(info.context, Capability.READ_TEAMS):
            return None
        return optional(info.context.loaders.team, team_id, Team.from_row)

    @strawberry.field
    def assignee(self, info: Ctx) -> AgentRef | None:
        from schema.types.agent import Agent

        staff_id = self.record.request.assignee_id
        if staff_id is None or not can(info.context, Capability.READ_TEAMS):
            return None
        return optional(info.context.loaders.staff, staff_id, Agent.from_row)

    @strawberry.field
    def sla(self, info: Ctx) -> SlaRef:
        from schema.types.sla import sla_of

        return sla_of(info.context, self.record)

    @strawberry.field
    def approvals(self, info: Ctx) -> list[ApprovalRef]:
        from schema.types.approval import Approval

        if not can(info.context, Capability.READ_APPROVALS):
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
        from schema.types.timeline import comment_connection

        return await comment_connection(info.context, request_id=self.pk, first=first, after=after)

    @strawberry.field(description="The request's timeline, oldest first.")
    async def events(
        self, info: Ctx, first: int | None = None, after: str | None = None
    ) -> Connection[RequestEventRef]:
        from schema.types.timeline import event_connection

        return await event_connection(info.context, request_id=self.pk, first=first, after=after)

    @strawberry.field(description="Transitions the viewer may perform now.")
    def available_transitions(self, info: Ctx) -> list[Transition]:
        if self.status not in OPEN_STATUSES:
            return self._transitions(info.context, pending=False)
        return now_or_later(
            info.context.loaders.approvals_by_request,
            self.pk,
            lambda approvals: self._transitions(
                info.context, pending=any(a.status == ApprovalStatusEnum.PENDING for a in approvals)
            ),
        )

    def _transitions(self, ctx: Context, *, pending: bool) -> list[Transition]:
        """The transitions the viewer may perform, given whether an approval is pending."""
        p = ctx.principal
        r = self.record.request
        facts = RequestFacts(
            status=self.status,
            customer_id=r.customer_id,
            version=r.version,
            assignee_id=r.assignee_id,
            resolved_at=r.resolved_at,
            has_pending_approval=pending,
        )
        actor = Actor(roles=p.roles, staff_id=p.staff_id, acts_for_customer=p.sees_customer(r.customer_id))
        return [
            Transition(action=action, to_status=to_status)
            for action, to_status in allowed_actions(request=facts, actor=actor, now=ctx.now())
            if can(ctx, _capability(action))
        ]


def _capability(action: TransitionAction) -> Capability:
    """The token capability an action needs (the mutations check the same, via auth.permissions)."""
    if action is TransitionAction.REQUEST_APPROVAL:
        return Capability.REQUEST_APPROVAL
    if TRANSITIONS[action].who is Who.CUSTOMER_OR_STAFF:
        return Capability.CUSTOMER_TRANSITIONS
    return Capability.STAFF_TRANSITIONS


async def service_request_by_id(ctx: Context, pk: int) -> ServiceRequest | None:
    """The request if it exists for the caller (scoped, fresh read): what mutation payloads return."""
    return await load_node(ctx, "ServiceRequest", pk)  # type: ignore[no-any-return]


async def service_request_by_number(ctx: Context, number: str) -> ServiceRequest | None:
    """`serviceRequestByNumber`: null when unknown or outside the caller's scope."""
    async with ctx.services.engine.connect() as conn:
        record = await fetch_request_by_number(conn, number, scope=customer_scope(ctx))
    if record is None:
        return None
    ctx.loaders.prime_requests([record])
    return ServiceRequest.from_row(record)


def request_filter(
    flt: ServiceRequestFilter | None, *, customer_id: int | None = None, invoice_id: int | None = None
) -> RequestFilter:
    """The database filter of a ServiceRequestFilter, narrowed to a parent customer or invoice.

    IDs of the wrong type, or contradicting the parent, match nothing (as if they did not exist).
    """
    f = flt or ServiceRequestFilter()
    possible = True
    decoded: dict[str, int | None] = {}
    for name, value, type_name in (
        ("customer_id", f.customer_id, "Customer"),
        ("team_id", f.team_id, "Team"),
        ("assignee_id", f.assignee_id, "Agent"),
        ("invoice_id", f.invoice_id, "Invoice"),
    ):
        pk, ok = ids.decode_optional_as(value, type_name)
        decoded[name] = pk
        possible = possible and ok
    for name, parent in (("customer_id", customer_id), ("invoice_id", invoice_id)):
        if parent is not None:
            if decoded[name] not in (None, parent):
                possible = False
            decoded[name] = parent
    return RequestFilter(
        statuses=f.status,
        types=f.type,
        priorities=f.priority,
        channels=f.channel,
        sla_states=f.sla_state,
        customer_id=decoded["customer_id"],
        team_id=decoded["team_id"],
        assignee_id=decoded["assignee_id"],
        invoice_id=decoded["invoice_id"],
        created_after=f.created_after,
        created_before=f.created_before,
        search=f.search,
        min_financial_impact=f.min_financial_impact,
        impossible=not possible,
    )


async def service_request_connection(
    ctx: Context,
    *,
    flt: ServiceRequestFilter | None,
    order: ServiceRequestOrder | None = None,
    customer_id: int | None = None,
    invoice_id: int | None = None,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> Connection[ServiceRequest]:
    """Requests within the caller's scope matching `flt`, newest first unless ordered otherwise."""
    ordering = request_ordering(
        order.field.value if order is not None else "CREATED_AT",
        descending=order is None or order.direction is OrderDirection.DESC,
    )
    page = page_request(ordering, first=first, after=after, last=last, before=before)
    scope, now = customer_scope(ctx), ctx.now()
    loaders = ctx.loaders
    if customer_id is not None or invoice_id is not None:
        result, records, total = await _nested_requests(
            ctx, flt, ordering, page, customer_id=customer_id, invoice_id=invoice_id
        )
    else:
        query = request_filter(flt)
        # The operation's read connection: the count then shares it with the nodes' batches.
        async with loaders.connection() as conn:
            result, records = await fetch_request_page(
                conn, flt=query, scope=scope, now=now, ordering=ordering, page=page
            )

        async def total() -> int:
            async with loaders.connection() as conn:
                return await count_requests(conn, flt=query, scope=scope, now=now)

    loaders.prime_requests(records)
    nodes = [ServiceRequest.from_row(r) for r in records]
    return connection(ordering, result, nodes, total, prefetch=_relations_of(ctx, records))


async def _nested_requests(
    ctx: Context,
    flt: ServiceRequestFilter | None,
    ordering: Ordering,
    page: PageRequest,
    *,
    customer_id: int | None,
    invoice_id: int | None,
) -> tuple[Page, list[RequestRecord], Callable[[], Awaitable[int]]]:
    """Customer.serviceRequests / Invoice.serviceRequests: one batch for every parent of the
    operation asking the same page (the parent's own condition becomes the partition)."""
    parent, parent_id, field = (
        ("customer", customer_id, "customer_id")
        if customer_id is not None
        else ("invoice", invoice_id, "invoice_id")
    )
    assert parent_id is not None
    query = request_filter(flt)
    own = getattr(query, field)
    # An id in the filter naming another parent matches nothing (request_filter's rule).
    query = replace(query, **{field: None}, impossible=query.impossible or own not in (None, parent_id))
    scope, now = customer_scope(ctx), ctx.now()
    key = (parent, repr(query), scope)
    pages = ctx.loaders.keyed(
        ("serviceRequests", key, ordering.name, page),
        partial(
            fetch_request_pages, parent=parent, flt=query, scope=scope, now=now, ordering=ordering, page=page
        ),
    )
    counts = ctx.loaders.keyed(
        ("serviceRequests#count", key),
        partial(count_requests_by, parent=parent, flt=query, scope=scope, now=now),
    )
    result, records = await pages.load(parent_id)

    async def total() -> int:
        return await counts.load(parent_id)

    return result, records, total


def _relations_of(ctx: Context, records: Sequence[RequestRecord]) -> Prefetch:
    """The prefetch of a page's relations (see schema.pagination.Connection).

    One `load_many` per relation the query selects on the nodes, all started together: each is
    the batch the nodes' own fields would have made, under the same conditions (a field that
    answers null or [] without loading, for lack of a capability, is not prefetched), so the
    statements are the same and only the per-field awaiting goes. The fields still apply their
    own access rules to what they find.
    """

    def prefetch(selected: frozenset[str]) -> Awaitable[object] | None:
        loaders = ctx.loaders
        rows = [record.request for record in records]
        wanted: list[tuple[DataLoader[int, Any], Iterable[int | None]]] = []
        if "customer" in selected:
            wanted.append((loaders.customer, (r.customer_id for r in rows)))
        if "invoice" in selected:
            wanted.append((loaders.invoice, (r.invoice_id for r in rows)))
        if "payment" in selected:
            wanted.append((loaders.payment, (r.payment_id for r in rows)))
        if can(ctx, Capability.READ_TEAMS):
            if "team" in selected:
                wanted.append((loaders.team, (r.team_id for r in rows)))
            if "assignee" in selected:
                wanted.append((loaders.staff, (r.assignee_id for r in rows)))
        if "approvals" in selected and can(ctx, Capability.READ_APPROVALS):
            wanted.append((loaders.approvals_by_request, (r.id for r in rows)))
        if "availableTransitions" in selected:
            # Only open requests look at their approvals (a pending one blocks transitions).
            opened = (r.id for r in rows if RequestStatus(r.status) in OPEN_STATUSES)
            wanted.append((loaders.approvals_by_request, opened))
        if "adjustments" in selected:
            wanted.append((loaders.adjustments_by_request, (r.id for r in rows)))
        loads = []
        for loader, keys in wanted:
            present = [key for key in dict.fromkeys(keys) if key is not None]
            if present:
                loads.append(loader.load_many(present))
        # A failed batch is not an error of the page: each node's field raises it, as before.
        return asyncio.gather(*loads, return_exceptions=True) if loads else None

    return prefetch
