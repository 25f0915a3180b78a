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
    other relations follow a foreign key from a row the caller already sees.
    """

    customer: DataLoader[int, CustomerRow | None]
    invoice: DataLoader[int, InvoiceRow | None]
    payment: DataLoader[int, PaymentRow | None]
    staff: DataLoader[int, StaffRow | None]
    team: DataLoader[int, TeamRow | None]
    calendar: DataLoader[int, CalendarRow | None]
    comment: DataLoader[int, CommentRow | None]
    approval: DataLoader[int, ApprovalRow | None]
    service_request: DataLoader[int, RequestRecord | None]
    approvals_by_request: DataLoader[int, list[ApprovalRow]]
    adjustments_by_request: DataLoader[int, list[AdjustmentRow]]
    adjustments_by_invoice: DataLoader[int, list[AdjustmentRow]]
    payments_by_invoice: DataLoader[int, list[PaymentRow]]
    decisions_by_approval: DataLoader[int, list[DecisionRow]]
    teams_by_staff: DataLoader[int, list[TeamRow]]
    members_by_team: DataLoader[int, list[StaffRow]]
    open_balance: DataLoader[int, list[tuple[str, Decimal]]]
    current_contract: DataLoader[tuple[int, date], ContractRow | None]
    open_workload: DataLoader[int, int]
    team_open_requests: DataLoader[int, int]
    payment_behavior: DataLoader[tuple[int, datetime], PaymentBehaviorRow | None]
    financial_health: DataLoader[int, FinancialHealthRow | None]
    # The email channel: a customer's contacts, a request's requester, attachments by owner.
    contacts_by_customer: DataLoader[int, list[ContactRow]]
    requester_by_request: DataLoader[int, list[ContactRow]]
    attachments_by_request: DataLoader[int, list[AttachmentRow]]
    attachments_by_comment: DataLoader[int, list[AttachmentRow]]
    attachments_by_inbound: DataLoader[int, list[AttachmentRow]]

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
