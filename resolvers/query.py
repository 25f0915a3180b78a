"""Query root: the read side of the contract.

Each operation first checks that the caller's role and scopes allow it at
all (FORBIDDEN otherwise); within an allowed operation, rows outside the
caller's customers are left out in SQL as if they did not exist. The fields
only authorize and hand over to the read resolvers of their feature
(resolvers.reads).
"""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from auth.permissions import Capability
from domain.enums import InboundMailStatus, InvoiceStatus, OutboundMailStatus, WebhookDeliveryStatus
from resolvers.connections import MAX_PAGE_SIZE
from resolvers.context import Context
from resolvers.nodes import resolve_node_ids
from resolvers.reads.approvals import approval_connection
from resolvers.reads.audit import audit_connection, verify_audit_chain
from resolvers.reads.customers import customer_connection
from resolvers.reads.invoices import invoice_connection
from resolvers.reads.mail import inbound_mail_connection, outbound_mail_connection
from resolvers.reads.metrics import resolve_metrics
from resolvers.reads.requests import service_request_by_number, service_request_connection
from resolvers.reads.staff import all_teams
from resolvers.reads.webhooks import webhook_deliveries, webhook_endpoints
from schema import ids
from schema.errors import BadUserInput
from schema.inputs import ApprovalFilter, CustomerFilter, ServiceRequestFilter, ServiceRequestOrder
from schema.pagination import Connection, PageArgs
from schema.types.agent import Team
from schema.types.approval import Approval
from schema.types.audit import AuditEntry, AuditVerification
from schema.types.customer import Customer
from schema.types.invoice import Invoice
from schema.types.mail import InboundMail, OutboundMail
from schema.types.metrics import MetricsFilter, ServiceMetrics
from schema.types.node import Node
from schema.types.request import ServiceRequest
from schema.types.viewer import Viewer
from schema.types.webhook import WebhookDelivery, WebhookEndpoint

__all__ = ["Query"]

Ctx = Info[Context, None]


@strawberry.type
class Query:
    # The audit chain's self-check and the metrics lead the exported schema's field order.
    @strawberry.field
    async def verify_audit_chain(self, info: Ctx) -> AuditVerification:
        return await verify_audit_chain(info.context)

    @strawberry.field
    async def metrics(self, info: Ctx, filter: MetricsFilter | None = None) -> ServiceMetrics:
        return await resolve_metrics(info.context, filter)

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
        return Viewer.of(info.context.principal)

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
        info.context.require(Capability.READ_CUSTOMERS)
        return await customer_connection(info.context, PageArgs(first, after, last, before), filter)

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
        info.context.require(Capability.READ_REQUESTS)
        args = PageArgs(first, after, last, before)
        return await service_request_connection(info.context, args, flt=filter, order=order_by)

    @strawberry.field(description="Look-up by human-readable number, for partner systems.")
    async def service_request_by_number(self, info: Ctx, number: str) -> ServiceRequest | None:
        info.context.require(Capability.READ_REQUESTS)
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
        info.context.require(Capability.READ_REQUESTS)
        pk, possible = ids.decode_optional_as(customer_id, "Customer")
        args = PageArgs(first, after, last, before)
        if pk is None:
            return await invoice_connection(info.context, args, statuses=status, impossible=not possible)
        return await invoice_connection(info.context, args, customer_id=pk, statuses=status)

    @strawberry.field
    async def approvals(
        self,
        info: Ctx,
        first: int | None = None,
        after: str | None = None,
        filter: ApprovalFilter | None = None,
    ) -> Connection[Approval]:
        info.context.require(Capability.READ_APPROVALS)
        return await approval_connection(info.context, PageArgs(first, after), filter)

    @strawberry.field
    async def teams(self, info: Ctx) -> list[Team]:
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
        return await audit_connection(info.context, PageArgs(first, after), entity_id=entity_id)

    @strawberry.field(description="Received mail, newest first; staff only (EMAIL.md).")
    async def inbound_mails(
        self,
        info: Ctx,
        first: int | None = None,
        after: str | None = None,
        status: list[InboundMailStatus] | None = None,
    ) -> Connection[InboundMail]:
        return await inbound_mail_connection(info.context, PageArgs(first, after), statuses=status)

    @strawberry.field(description="Mail casegraph sends, newest first; staff only (EMAIL.md).")
    async def outbound_mails(
        self,
        info: Ctx,
        first: int | None = None,
        after: str | None = None,
        service_request_id: strawberry.ID | None = None,
        status: list[OutboundMailStatus] | None = None,
    ) -> Connection[OutboundMail]:
        info.context.require(Capability.READ_MAIL)
        request_id = None if service_request_id is None else ids.row_id(service_request_id, "ServiceRequest")
        args = PageArgs(first, after)
        return await outbound_mail_connection(info.context, args, statuses=status, request_id=request_id)

    @strawberry.field(description="Webhook endpoints: a partner's own, or every one for an ADMIN.")
    async def webhook_endpoints(
        self, info: Ctx, first: int | None = None, after: str | None = None
    ) -> Connection[WebhookEndpoint]:
        return await webhook_endpoints(info.context, PageArgs(first, after))

    @strawberry.field(description="An endpoint's delivery log, newest first.")
    async def webhook_deliveries(
        self,
        info: Ctx,
        endpoint_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
        status: list[WebhookDeliveryStatus] | None = None,
    ) -> Connection[WebhookDelivery]:
        return await webhook_deliveries(info.context, endpoint_id, PageArgs(first, after), status)
