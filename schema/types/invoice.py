"""Receivables: Invoice, Payment and Adjustment (financial corrections)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from functools import partial

import strawberry
from strawberry.types import Info

from db.queries.invoices import (
    INVOICE_ORDER,
    PAYMENT_ORDER,
    count_invoices,
    count_invoices_by_customer,
    count_payments_by_customer,
    fetch_invoice_page,
    fetch_invoice_pages,
    fetch_payment_pages,
)
from domain.enums import AdjustmentKind, InvoiceStatus, PaymentStatus
from domain.invoices import invoice_status
from records.rows import AdjustmentRow, InvoiceRow, PaymentRow
from schema import ids
from schema.context import Context
from schema.pagination import Connection, connection, page_request
from schema.types.money import Money, money
from schema.types.node import Node, load_node
from schema.types.ready import now_or_later, optional, required
from schema.types.refs import AgentRef, ApprovalRef, CustomerRef, ServiceRequestRef
from schema.types.scope import Capability, can, customer_scope, today, visible

__all__ = [
    "Adjustment",
    "Invoice",
    "Payment",
    "adjustment_by_id",
    "invoice_by_id",
    "invoice_connection",
    "payment_by_id",
    "payment_connection",
]

Ctx = Info[Context, None]


# Relation fields are synchronous when the loaders hold their rows: see schema.types.ready.


def _customer(info: Ctx, customer_id: int) -> CustomerRef:
    from schema.types.customer import Customer

    return required(info.context.loaders.customer, customer_id, Customer.from_row)


def _invoice(info: Ctx, invoice_id: int | None) -> Invoice | None:
    if invoice_id is None:
        return None
    ctx = info.context

    def build(row: InvoiceRow | None) -> Invoice | None:
        return Invoice.from_row(row) if row is not None and visible(ctx, row.customer_id) else None

    return now_or_later(ctx.loaders.invoice, invoice_id, build)


@strawberry.type
class Invoice(Node):
    row: strawberry.Private[InvoiceRow]
    number: str
    issued_on: date
    due_on: date
    disputed: bool = strawberry.field(description="True while a billing dispute on this invoice is open.")

    @classmethod
    def from_row(cls, row: InvoiceRow) -> Invoice:
        return cls(
            id=strawberry.ID(ids.encode("Invoice", row.id)),
            row=row,
            number=row.number,
            issued_on=row.issued_on,
            due_on=row.due_on,
            disputed=row.disputed,
        )

    @strawberry.field
    def customer(self, info: Ctx) -> CustomerRef:
        return _customer(info, self.row.customer_id)

    @strawberry.field
    def amount(self) -> Money:
        return money(self.row.amount, self.row.currency)

    @strawberry.field(
        description="amount - posted payments - posted credit adjustments + posted debit adjustments."
    )
    def outstanding(self) -> Money:
        return money(self.row.outstanding, self.row.currency)

    @strawberry.field
    def status(self, info: Ctx) -> InvoiceStatus:
        r = self.row
        return invoice_status(
            voided=r.voided,
            amount=r.amount,
            outstanding=r.outstanding,
            due_on=r.due_on,
            today=today(info.context),
        )

    @strawberry.field
    def payments(self, info: Ctx) -> list[Payment]:
        ctx = info.context

        def build(rows: list[PaymentRow]) -> list[Payment]:
            return [Payment.from_row(r) for r in rows if visible(ctx, r.customer_id)]

        return now_or_later(ctx.loaders.payments_by_invoice, self.row.id, build)

    @strawberry.field
    def adjustments(self, info: Ctx) -> list[Adjustment]:
        return now_or_later(info.context.loaders.adjustments_by_invoice, self.row.id, _adjustments)

    @strawberry.field
    async def service_requests(
        self, info: Ctx, first: int | None = None, after: str | None = None
    ) -> Connection[ServiceRequestRef]:
        from schema.types.request import service_request_connection

        return await service_request_connection(
            info.context, flt=None, invoice_id=self.row.id, first=first, after=after
        )


@strawberry.type
class Payment(Node):
    row: strawberry.Private[PaymentRow]
    reference: str
    received_at: datetime
    status: PaymentStatus

    @classmethod
    def from_row(cls, row: PaymentRow) -> Payment:
        return cls(
            id=strawberry.ID(ids.encode("Payment", row.id)),
            row=row,
            reference=row.reference,
            received_at=row.received_at,
            status=PaymentStatus(row.status),
        )

    @strawberry.field
    def customer(self, info: Ctx) -> CustomerRef:
        return _customer(info, self.row.customer_id)

    @strawberry.field
    def invoice(self, info: Ctx) -> Invoice | None:
        return _invoice(info, self.row.invoice_id)

    @strawberry.field
    def amount(self) -> Money:
        return money(self.row.amount, self.row.currency)


@strawberry.type(
    description=(
        "A financial correction posted on an invoice, "
        "always backed by an approval or by the agent's own limit."
    )
)
class Adjustment(Node):
    row: strawberry.Private[AdjustmentRow]
    kind: AdjustmentKind
    posted_at: datetime

    @classmethod
    def from_row(cls, row: AdjustmentRow) -> Adjustment:
        return cls(
            id=strawberry.ID(ids.encode("Adjustment", row.id)),
            row=row,
            kind=AdjustmentKind(row.kind),
            posted_at=row.posted_at,
        )

    @strawberry.field
    def invoice(self, info: Ctx) -> Invoice:
        return required(info.context.loaders.invoice, self.row.invoice_id, Invoice.from_row)

    @strawberry.field
    def service_request(self, info: Ctx) -> ServiceRequestRef:
        from schema.types.request import ServiceRequest

        return required(info.context.loaders.service_request, self.row.request_id, ServiceRequest.from_row)

    @strawberry.field
    def amount(self) -> Money:
        return money(self.row.amount, self.row.currency)

    @strawberry.field
    def approval(self, info: Ctx) -> ApprovalRef | None:
        from schema.types.approval import Approval

        if self.row.approval_id is None or not can(info.context, Capability.READ_APPROVALS):
            return None
        return optional(info.context.loaders.approval, self.row.approval_id, Approval.from_row)

    @strawberry.field
    def posted_by(self, info: Ctx) -> AgentRef:
        from schema.types.agent import Agent

        return required(info.context.loaders.staff, self.row.posted_by_id, Agent.from_row)


def _adjustments(rows: list[AdjustmentRow]) -> list[Adjustment]:
    return [Adjustment.from_row(r) for r in rows]


async def invoice_by_id(ctx: Context, pk: int) -> Invoice | None:
    """The invoice if it exists for the caller (scoped, fresh read)."""
    return await load_node(ctx, "Invoice", pk)  # type: ignore[no-any-return]


async def payment_by_id(ctx: Context, pk: int) -> Payment | None:
    """The payment if it exists for the caller (scoped, fresh read)."""
    return await load_node(ctx, "Payment", pk)  # type: ignore[no-any-return]


async def adjustment_by_id(ctx: Context, pk: int) -> Adjustment | None:
    """The adjustment if it exists for the caller (scoped through its invoice, fresh read)."""
    return await load_node(ctx, "Adjustment", pk)  # type: ignore[no-any-return]


async def invoice_connection(
    ctx: Context,
    *,
    customer_id: int | None = None,
    statuses: Sequence[InvoiceStatus] | None = None,
    impossible: bool = False,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> Connection[Invoice]:
    """Invoices within the caller's scope, newest issued first; `impossible`: match nothing."""
    page = page_request(INVOICE_ORDER, first=first, after=after, last=last, before=before)
    scope, on = customer_scope(ctx), today(ctx)
    wanted = None if statuses is None else tuple(str(x) for x in statuses)
    if customer_id is not None:
        # Customer.invoices: one batch for every customer of the operation asking the same page.
        key = (page, scope, on, wanted, impossible)
        pages = ctx.loaders.keyed(
            ("Customer.invoices", key),
            partial(
                fetch_invoice_pages, page=page, scope=scope, today=on, statuses=wanted, impossible=impossible
            ),
        )
        counts = ctx.loaders.keyed(
            ("Customer.invoices#count", key),
            partial(
                count_invoices_by_customer, scope=scope, today=on, statuses=wanted, impossible=impossible
            ),
        )
        result, rows = await pages.load(customer_id)

        async def total() -> int:
            return await counts.load(customer_id)

    else:
        engine = ctx.services.engine
        async with engine.connect() as conn:
            result, rows = await fetch_invoice_page(
                conn, page=page, scope=scope, today=on, statuses=wanted, impossible=impossible
            )

        async def total() -> int:
            async with engine.connect() as conn:
                return await count_invoices(
                    conn, scope=scope, today=on, statuses=wanted, impossible=impossible
                )

    for row in rows:
        ctx.loaders.invoice.prime(row.id, row)
    return connection(INVOICE_ORDER, result, [Invoice.from_row(r) for r in rows], total)


async def payment_connection(
    ctx: Context,
    *,
    customer_id: int,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> Connection[Payment]:
    """A customer's payments, newest first."""
    page = page_request(PAYMENT_ORDER, first=first, after=after, last=last, before=before)
    scope = customer_scope(ctx)
    # One batch for every customer of the operation asking the same page (Customer.payments).
    pages = ctx.loaders.keyed(
        ("Customer.payments", page, scope), partial(fetch_payment_pages, page=page, scope=scope)
    )
    counts = ctx.loaders.keyed(
        ("Customer.payments#count", scope), partial(count_payments_by_customer, scope=scope)
    )
    result, rows = await pages.load(customer_id)

    async def total() -> int:
        return await counts.load(customer_id)

    return connection(PAYMENT_ORDER, result, [Payment.from_row(r) for r in rows], total)
