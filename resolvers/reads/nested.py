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
from resolvers.connections import PageArgs
from resolvers.reads.invoices import invoice_connection, payment_connection
from resolvers.reads.requests import service_request_connection
from resolvers.reads.timeline import comment_connection, event_connection
from schema.inputs import ServiceRequestFilter
from schema.pagination import Connection
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

    async def comments(self, *, request_id: int, first: int | None, after: str | None) -> Connection[Comment]:
        return await comment_connection(self.ctx, PageArgs(first, after), request_id=request_id)

    async def events(
        self, *, request_id: int, first: int | None, after: str | None
    ) -> Connection[RequestEvent]:
        return await event_connection(self.ctx, PageArgs(first, after), request_id=request_id)

    async def invoices(
        self,
        *,
        customer_id: int,
        statuses: Sequence[InvoiceStatus] | None,
        first: int | None,
        after: str | None,
        last: int | None,
        before: str | None,
    ) -> Connection[Invoice]:
        args = PageArgs(first, after, last, before)
        return await invoice_connection(self.ctx, args, customer_id=customer_id, statuses=statuses)

    async def payments(
        self, *, customer_id: int, first: int | None, after: str | None, last: int | None, before: str | None
    ) -> Connection[Payment]:
        return await payment_connection(
            self.ctx, PageArgs(first, after, last, before), customer_id=customer_id
        )

    async def service_requests(
        self,
        *,
        filter: ServiceRequestFilter | None,
        customer_id: int | None = None,
        invoice_id: int | None = None,
        first: int | None,
        after: str | None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[ServiceRequest]:
        args = PageArgs(first, after, last, before)
        return await service_request_connection(
            self.ctx, args, flt=filter, customer_id=customer_id, invoice_id=invoice_id
        )
