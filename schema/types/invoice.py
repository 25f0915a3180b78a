"""Receivables: Invoice, Payment and Adjustment (financial corrections)."""

from __future__ import annotations

from datetime import date, datetime

import strawberry
from strawberry.types import Info

from auth.permissions import Capability
from domain.enums import AdjustmentKind, InvoiceStatus, PaymentStatus
from domain.invoices import invoice_status
from records.rows import AdjustmentRow, InvoiceRow, PaymentRow
from schema import ids
from schema.context import TypeContext
from schema.pagination import Connection, PageArgs
from schema.types.money import Money, money
from schema.types.node import Node
from schema.types.ready import now_or_later, optional, required
from schema.types.refs import AgentRef, ApprovalRef, CustomerRef, ServiceRequestRef

__all__ = ["Adjustment", "Invoice", "Payment"]

Ctx = Info[TypeContext, None]


# Relation fields are synchronous when the loaders hold their rows: see schema.types.ready.


def _customer(info: Ctx, customer_id: int) -> CustomerRef:
    from schema.types.customer import Customer

    return required(info.context.loaders.customer, customer_id, Customer.from_row)


def _invoice(info: Ctx, invoice_id: int | None) -> Invoice | None:
    """The invoice, read within the caller's customers (the loader's scope)."""
    if invoice_id is None:
        return None
    return optional(info.context.loaders.invoice, invoice_id, Invoice.from_row)


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
            today=info.context.today(),
        )

    @strawberry.field
    def payments(self, info: Ctx) -> list[Payment]:
        # Read within the caller's customers (the loader's scope).
        return now_or_later(info.context.loaders.payments_by_invoice, self.row.id, _payments)

    @strawberry.field
    def adjustments(self, info: Ctx) -> list[Adjustment]:
        return now_or_later(info.context.loaders.adjustments_by_invoice, self.row.id, _adjustments)

    @strawberry.field
    async def service_requests(
        self, info: Ctx, first: int | None = None, after: str | None = None
    ) -> Connection[ServiceRequestRef]:
        args = PageArgs(first, after)
        return await info.context.connections.service_requests(args, filter=None, invoice_id=self.row.id)


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

        if self.row.approval_id is None or not info.context.can(Capability.READ_APPROVALS):
            return None
        return optional(info.context.loaders.approval, self.row.approval_id, Approval.from_row)

    @strawberry.field
    def posted_by(self, info: Ctx) -> AgentRef:
        from schema.types.agent import Agent

        return required(info.context.loaders.staff, self.row.posted_by_id, Agent.from_row)


def _adjustments(rows: list[AdjustmentRow]) -> list[Adjustment]:
    return [Adjustment.from_row(r) for r in rows]


def _payments(rows: list[PaymentRow]) -> list[Payment]:
    return [Payment.from_row(r) for r in rows]
