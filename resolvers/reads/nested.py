"""The connections the GraphQL types open under a parent (schema.context.NestedConnections).

A type's field (`Customer.invoices`, `ServiceRequest.events`, ...) asks
`info.context.connections`; this is what answers, with the read resolvers
of each feature.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from domain.enums import InvoiceStatus
from resolvers.reads.invoices import invoice_connection, payment_connection
from resolvers.reads.requests import service_request_connection
from resolvers.reads.timeline import comment_connection, event_connection
from schema.inputs import ServiceRequestFilter
from schema.pagination import Connection, PageArgs
from schema.types.invoice import Invoice, Payment
from schema.types.request import ServiceRequest
from schema.types.timeline import Comment, RequestEvent

if TYPE_CHECKING:
    from resolvers.context import Context

__all__ = ["NestedReads"]


@dataclass(frozen=True, slots=True)
class NestedReads:
    """The nested connections of one operation's context."""

    ctx: Context

    async def comments(self, args: PageArgs, *, request_id: int) -> Connection[Comment]:
        return await comment_connection(self.ctx, args, request_id=request_id)

    async def events(self, args: PageArgs, *, request_id: int) -> Connection[RequestEvent]:
        return await event_connection(self.ctx, args, request_id=request_id)

    async def invoices(
        self, args: PageArgs, *, customer_id: int, statuses: Sequence[InvoiceStatus] | None
    ) -> Connection[Invoice]:
        return await invoice_connection(self.ctx, args, customer_id=customer_id, statuses=statuses)

    async def payments(self, args: PageArgs, *, customer_id: int) -> Connection[Payment]:
        return await payment_connection(self.ctx, args, customer_id=customer_id)

    async def service_requests(
        self,
        args: PageArgs,
        *,
        filter: ServiceRequestFilter | None,
        customer_id: int | None = None,
        invoice_id: int | None = None,
    ) -> Connection[ServiceRequest]:
        return await service_request_connection(
            self.ctx, args, flt=filter, customer_id=customer_id, invoice_id=invoice_id
        )
