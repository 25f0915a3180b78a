"""Query root: the read side of the contract.

Each operation first checks that the caller's role and scopes allow it at
all (FORBIDDEN otherwise); within an allowed operation, rows outside the
caller's customers are left out in SQL as if they did not exist.
"""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from domain.enums import InvoiceStatus
from resolvers.audit import AuditVerification, verify_audit_chain
from resolvers.metrics import resolve_metrics
from schema import ids
from schema.context import Context
from schema.errors import BadUserInput
from schema.inputs import ApprovalFilter, CustomerFilter, ServiceRequestFilter, ServiceRequestOrder
from schema.pagination import MAX_PAGE_SIZE, Connection
from schema.types.agent import Team, all_teams
from schema.types.approval import Approval, approval_connection
from schema.types.audit import AuditEntry, audit_connection
from schema.types.customer import Customer, customer_connection
from schema.types.invoice import Invoice, invoice_connection
from schema.types.metrics import ServiceMetrics
from schema.types.node import Node, resolve_node_ids
from schema.types.request import ServiceRequest, service_request_by_number, service_request_connection
from schema.types.scope import Capability, require
from schema.types.viewer import Viewer, viewer_for

__all__ = ["Query"]

Ctx = Info[Context, None]


@strawberry.type
class Query:
    @strawberry.field
    async def node(self, info: Ctx, id: strawberry.ID) -> Node | None:
        return (await resolve_node_ids(info.context, [id]))[0]

    @strawberry.field
    async def nodes(self, info: Ctx, ids: list[strawberry.ID]) -> list[Node | None]:
        if len(ids) > MAX_PAGE_SIZE:
            raise BadUserInput(f"at most {MAX_PAGE_SIZE} ids")
        return await resolve_node_ids(info.context, ids)

    @strawberry.field
    async def viewer(self, info: Ctx) -> Viewer:
        return await viewer_for(info.context)

    @strawberry.field
    async def customers(
        self,
        info: Ctx,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: CustomerFilter | None = None,
    ) -> Connection[Customer]:
        require(info.context, Capability.READ_CUSTOMERS)
        return await customer_connection(
            info.context, filter, first=first, after=after, last=last, before=before
        )

    @strawberry.field
    async def service_requests(
        self,
        info: Ctx,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: ServiceRequestFilter | None = None,
        order_by: ServiceRequestOrder | None = None,
    ) -> Connection[ServiceRequest]:
        require(info.context, Capability.READ_REQUESTS)
        return await service_request_connection(
            info.context, flt=filter, order=order_by, first=first, after=after, last=last, before=before
        )

    @strawberry.field(description="Look-up by human-readable number, for partner systems.")
    async def service_request_by_number(self, info: Ctx, number: str) -> ServiceRequest | None:
        require(info.context, Capability.READ_REQUESTS)
        return await service_request_by_number(info.context, number)

    @strawberry.field
    async def invoices(
        self,
        info: Ctx,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        customer_id: strawberry.ID | None = None,
        status: list[InvoiceStatus] | None = None,
    ) -> Connection[Invoice]:
        require(info.context, Capability.READ_REQUESTS)
        pk, possible = ids.decode_optional_as(customer_id, "Customer")
        return await invoice_connection(
            info.context,
            customer_id=pk,
            statuses=status,
            impossible=not possible,
            first=first,
            after=after,
            last=last,
            before=before,
        )

    @strawberry.field
    async def approvals(
        self,
        info: Ctx,
        first: int | None = None,
        after: str | None = None,
        filter: ApprovalFilter | None = None,
    ) -> Connection[Approval]:
        require(info.context, Capability.READ_APPROVALS)
        return await approval_connection(info.context, filter, first=first, after=after)

    @strawberry.field
    async def teams(self, info: Ctx) -> list[Team]:
        require(info.context, Capability.READ_TEAMS)
        return await all_teams(info.context)

    @strawberry.field(
        description="Newest first; `entityId` is the global ID of the entity whose entries to show."
    )
    async def audit_log(
        self,
        info: Ctx,
        first: int | None = None,
        after: str | None = None,
        entity_id: strawberry.ID | None = None,
    ) -> Connection[AuditEntry]:
        return await audit_connection(info.context, first=first, after=after, entity_id=entity_id)

    # The audit chain's self-check (resolvers/audit.py): ADMIN and AUDITOR only.
    verify_audit_chain: AuditVerification = strawberry.field(resolver=verify_audit_chain)

    # Service and financial metrics (resolvers/metrics.py): staff and auditors with metrics:read.
    metrics: ServiceMetrics = strawberry.field(resolver=resolve_metrics)
