"""The operation's context as the GraphQL types see it (`info.context` in their field methods).

The types declare here what they need and nothing more: the caller, the
clock, the access questions, the request-scoped DataLoaders of their
relations and the nested connections they open. resolvers.context.Context
is the one implementation (mypy checks that it satisfies `TypeContext`), so
the types reach the read resolvers without importing resolvers/ or db/.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from strawberry.dataloader import DataLoader

from auth.permissions import Capability
from auth.principal import Principal
from domain.enums import InvoiceStatus
from domain.rules import Rules
from domain.sla import SlaPolicy as DomainSlaPolicy
from records.insight import FinancialHealthRow, PaymentBehaviorRow
from records.mail import AttachmentRow, ContactRow
from records.rows import (
    AdjustmentRow,
    ApprovalRow,
    CalendarRow,
    CommentRow,
    ContractRow,
    CustomerRow,
    DecisionRow,
    InvoiceRow,
    PaymentRow,
    RequestRecord,
    StaffRow,
    TeamRow,
)

if TYPE_CHECKING:
    from schema.inputs import ServiceRequestFilter
    from schema.pagination import Connection, PageArgs
    from schema.types.invoice import Invoice, Payment
    from schema.types.request import ServiceRequest
    from schema.types.timeline import Comment, RequestEvent

__all__ = ["NestedConnections", "TypeContext", "TypeLoaders"]


class TypeLoaders(Protocol):
    """The operation's DataLoaders the relation fields use (resolvers.loaders.Loaders).

    Requests, invoices, payments and open workloads are read within the caller's customers; the
    other relations follow a foreign key from a row the caller already sees. Each is made on
    first use (an operation that reads no relation makes none).
    """

    @property
    def customer(self) -> DataLoader[int, CustomerRow | None]: ...
    @property
    def invoice(self) -> DataLoader[int, InvoiceRow | None]: ...
    @property
    def payment(self) -> DataLoader[int, PaymentRow | None]: ...
    @property
    def staff(self) -> DataLoader[int, StaffRow | None]: ...
    @property
    def team(self) -> DataLoader[int, TeamRow | None]: ...
    @property
    def calendar(self) -> DataLoader[int, CalendarRow | None]: ...
    @property
    def comment(self) -> DataLoader[int, CommentRow | None]: ...
    @property
    def approval(self) -> DataLoader[int, ApprovalRow | None]: ...
    @property
    def service_request(self) -> DataLoader[int, RequestRecord | None]: ...
    @property
    def approvals_by_request(self) -> DataLoader[int, list[ApprovalRow]]: ...
    @property
    def adjustments_by_request(self) -> DataLoader[int, list[AdjustmentRow]]: ...
    @property
    def adjustments_by_invoice(self) -> DataLoader[int, list[AdjustmentRow]]: ...
    @property
    def payments_by_invoice(self) -> DataLoader[int, list[PaymentRow]]: ...
    @property
    def decisions_by_approval(self) -> DataLoader[int, list[DecisionRow]]: ...
    @property
    def teams_by_staff(self) -> DataLoader[int, list[TeamRow]]: ...
    @property
    def members_by_team(self) -> DataLoader[int, list[StaffRow]]: ...
    @property
    def open_balance(self) -> DataLoader[int, list[tuple[str, Decimal]]]: ...
    @property
    def current_contract(self) -> DataLoader[tuple[int, date], ContractRow | None]: ...
    @property
    def open_workload(self) -> DataLoader[int, int]: ...
    @property
    def team_open_requests(self) -> DataLoader[int, int]: ...
    @property
    def payment_behavior(self) -> DataLoader[tuple[int, datetime], PaymentBehaviorRow | None]: ...
    @property
    def financial_health(self) -> DataLoader[int, FinancialHealthRow | None]: ...
    # The email channel: a customer's contacts, a request's requester, attachments by owner.
    @property
    def contacts_by_customer(self) -> DataLoader[int, list[ContactRow]]: ...
    @property
    def requester_by_request(self) -> DataLoader[int, list[ContactRow]]: ...
    @property
    def attachments_by_request(self) -> DataLoader[int, list[AttachmentRow]]: ...
    @property
    def attachments_by_comment(self) -> DataLoader[int, list[AttachmentRow]]: ...
    @property
    def attachments_by_inbound(self) -> DataLoader[int, list[AttachmentRow]]: ...

    async def business_rules(self) -> Rules:
        """The stored business rules (what the mutations apply), read once per operation."""
        ...

    def sla_policy_of(self, record: RequestRecord) -> DomainSlaPolicy:
        """The domain's view of a request's SLA policy, from the record itself (no SQL)."""
        ...


class NestedConnections(Protocol):
    """The connections the types open under a parent (resolvers.reads.nested.NestedReads)."""

    async def comments(self, args: PageArgs, *, request_id: int) -> Connection[Comment]: ...

    async def events(self, args: PageArgs, *, request_id: int) -> Connection[RequestEvent]: ...

    async def invoices(
        self, args: PageArgs, *, customer_id: int, statuses: Sequence[InvoiceStatus] | None
    ) -> Connection[Invoice]: ...

    async def payments(self, args: PageArgs, *, customer_id: int) -> Connection[Payment]: ...

    async def service_requests(
        self,
        args: PageArgs,
        *,
        filter: ServiceRequestFilter | None,
        customer_id: int | None = None,
        invoice_id: int | None = None,
    ) -> Connection[ServiceRequest]: ...


class TypeContext(Protocol):
    """What a field method may ask of `info.context`."""

    @property
    def principal(self) -> Principal: ...

    @property
    def loaders(self) -> TypeLoaders: ...

    @property
    def connections(self) -> NestedConnections: ...

    def now(self) -> datetime: ...

    def today(self) -> date: ...

    def can(self, capability: Capability) -> bool: ...

    def sees_internal_comments(self) -> bool: ...
