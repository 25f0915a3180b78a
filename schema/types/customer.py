"""Customer master data: Customer, Contract, and the credit insight types."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import strawberry
from strawberry.types import Info

from auth.permissions import visible_credit_fields
from domain.enums import CustomerSegment, InvoiceStatus, KycStatus, RiskRating, SlaTier
from records.rows import ContractRow, CustomerRow
from schema import ids
from schema.context import TypeContext
from schema.inputs import ServiceRequestFilter
from schema.pagination import Connection, PageArgs
from schema.types.insight import FinancialHealth, PaymentBehavior, financial_health_of, payment_behavior_of
from schema.types.money import Money, money
from schema.types.node import Node
from schema.types.ready import now_or_later, optional, required
from schema.types.refs import ContactRef, InvoiceRef, PaymentRef, ServiceRequestRef

__all__ = ["Contract", "Customer"]

Ctx = Info[TypeContext, None]


@strawberry.type(description="The governed customer master record (one golden record per customer).")
class Customer(Node):
    row: strawberry.Private[CustomerRow]
    external_ref: str = strawberry.field(description="Identifier in the ERP / customer master, unique.")
    name: str
    segment: CustomerSegment
    country: str
    kyc_status: KycStatus
    kyc_reviewed_at: datetime | None
    payment_terms_days: int = strawberry.field(description="Payment terms in days (e.g. 30 for net-30).")

    @classmethod
    def from_row(cls, row: CustomerRow) -> Customer:
        return cls(
            id=strawberry.ID(ids.encode("Customer", row.id)),
            row=row,
            external_ref=row.external_ref,
            name=row.name,
            segment=CustomerSegment(row.segment),
            country=row.country,
            kyc_status=KycStatus(row.kyc_status),
            kyc_reviewed_at=row.kyc_reviewed_at,
            payment_terms_days=row.payment_terms_days,
        )

    def _credit(self, info: Ctx, field: str) -> bool:
        return field in visible_credit_fields(info.context.principal, self.row.id)

    @strawberry.field(description="Null for callers not allowed to see credit data (see ACCESS.md).")
    def credit_limit(self, info: Ctx) -> Money | None:
        r = self.row
        if not self._credit(info, "creditLimit") or r.credit_limit_amount is None:
            return None
        return money(r.credit_limit_amount, r.credit_limit_currency or "")

    @strawberry.field(description="Null for callers not allowed to see credit data.")
    def risk_rating(self, info: Ctx) -> RiskRating | None:
        return RiskRating(self.row.risk_rating) if self._credit(info, "riskRating") else None

    # Relation fields are synchronous when the loaders hold their rows: see schema.types.ready.

    @strawberry.field(description="Sum of outstanding amounts of the customer's open invoices, per currency.")
    def open_balance(self, info: Ctx) -> list[Money]:
        return now_or_later(info.context.loaders.open_balance, self.row.id, _balances)

    @strawberry.field
    def contract(self, info: Ctx) -> Contract | None:
        key = (self.row.id, info.context.today())
        return optional(info.context.loaders.current_contract, key, Contract.from_row)

    @strawberry.field(description="The customer's e-mail contacts (EMAIL.md).")
    def contacts(self, info: Ctx) -> list[ContactRef]:
        from schema.types.mail import Contact

        build = lambda rows: [Contact.from_row(r) for r in rows]  # noqa: E731
        return now_or_later(info.context.loaders.contacts_by_customer, self.row.id, build)

    @strawberry.field
    async def invoices(
        self,
        info: Ctx,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        status: list[InvoiceStatus] | None = None,
    ) -> Connection[InvoiceRef]:
        args = PageArgs(first, after, last, before)
        return await info.context.connections.invoices(args, customer_id=self.row.id, statuses=status)

    @strawberry.field(description="All payments of the customer, linked to an invoice or not, newest first.")
    async def payments(
        self,
        info: Ctx,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[PaymentRef]:
        args = PageArgs(first, after, last, before)
        return await info.context.connections.payments(args, customer_id=self.row.id)

    @strawberry.field
    async def service_requests(
        self,
        info: Ctx,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: ServiceRequestFilter | None = None,
    ) -> Connection[ServiceRequestRef]:
        args = PageArgs(first, after, last, before)
        return await info.context.connections.service_requests(args, filter=filter, customer_id=self.row.id)

    @strawberry.field(description="Null for callers not allowed to see credit data.")
    def payment_behavior(self, info: Ctx) -> PaymentBehavior | None:
        if not self._credit(info, "paymentBehavior"):
            return None
        key = (self.row.id, info.context.now())
        return optional(info.context.loaders.payment_behavior, key, payment_behavior_of)

    @strawberry.field(description="Null for callers not allowed to see credit data.")
    def financial_health(self, info: Ctx) -> FinancialHealth | None:
        if not self._credit(info, "financialHealth"):
            return None
        return optional(info.context.loaders.financial_health, self.row.id, financial_health_of)


def _balances(totals: list[tuple[str, Decimal]]) -> list[Money]:
    return [money(amount, currency) for currency, amount in totals]


@strawberry.type
class Contract(Node):
    row: strawberry.Private[ContractRow]
    number: str
    sla_tier: SlaTier
    starts_on: date
    ends_on: date | None
    dispute_window_days: int = strawberry.field(
        description="Days after an invoice's issue date within which it may be disputed."
    )

    @classmethod
    def from_row(cls, row: ContractRow) -> Contract:
        return cls(
            id=strawberry.ID(ids.encode("Contract", row.id)),
            row=row,
            number=row.number,
            sla_tier=SlaTier(row.sla_tier),
            starts_on=row.starts_on,
            ends_on=row.ends_on,
            dispute_window_days=row.dispute_window_days,
        )

    @strawberry.field
    def customer(self, info: Ctx) -> Customer:
        return required(info.context.loaders.customer, self.row.customer_id, Customer.from_row)
