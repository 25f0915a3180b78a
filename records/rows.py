"""Plain records of stored rows: what storage returns and every layer above reads (never ORM objects).

Field names are the column names, so `RowType.of(mapping)` builds one from a
result mapping; db.tables.columns(table, RowType) selects exactly its columns.
No database code (only the domain's vocabulary): services, the GraphQL types
and the read resolvers all handle these records without the database layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Self

from domain.enums import RequestEventKind, RequestStatus, SlaTarget
from domain.lifecycle import RequestFacts
from domain.sla import SlaPolicy, SlaSnapshot

__all__ = [
    "AdjustmentRow",
    "ApprovalRow",
    "AuditRow",
    "CalendarRow",
    "CommentRow",
    "ContractRow",
    "CustomerRow",
    "DecisionRow",
    "InvoiceRow",
    "PaymentRow",
    "PolicyRow",
    "RequestRecord",
    "RequestRow",
    "Row",
    "StaffRow",
    "TeamRow",
]

# (row type, prefix) -> (field name, result key) pairs: dataclasses.fields() is slow, and a page
# of 50 requests builds a few hundred rows.
_KEYS: dict[tuple[type, str], tuple[tuple[str, str], ...]] = {}


class Row:
    """Base of the row records: built from a result mapping keyed by column name."""

    @classmethod
    def of(cls, mapping: Mapping[Any, Any], prefix: str = "") -> Self:
        """Build from a result mapping whose keys are the column names (plus `prefix`)."""
        keys = _KEYS.get((cls, prefix))
        if keys is None:
            keys = _KEYS[(cls, prefix)] = tuple((f.name, prefix + f.name) for f in fields(cls))  # type: ignore[arg-type]
        return cls(**{name: mapping[key] for name, key in keys})


@dataclass(frozen=True, slots=True)
class CustomerRow(Row):
    id: int
    external_ref: str
    name: str
    segment: str
    country: str
    kyc_status: str
    kyc_reviewed_at: datetime | None
    credit_limit_amount: Decimal | None
    credit_limit_currency: str | None
    risk_rating: str
    payment_terms_days: int


@dataclass(frozen=True, slots=True)
class ContractRow(Row):
    id: int
    number: str
    customer_id: int
    sla_tier: str
    starts_on: date
    ends_on: date | None
    dispute_window_days: int


@dataclass(frozen=True, slots=True)
class InvoiceRow(Row):
    id: int
    number: str
    customer_id: int
    issued_on: date
    due_on: date
    amount: Decimal
    currency: str
    outstanding: Decimal
    voided: bool
    disputed: bool


@dataclass(frozen=True, slots=True)
class PaymentRow(Row):
    id: int
    reference: str
    customer_id: int
    invoice_id: int | None
    amount: Decimal
    currency: str
    received_at: datetime
    status: str


@dataclass(frozen=True, slots=True)
class StaffRow(Row):
    id: int
    email: str
    name: str
    role: str
    approval_level: str
    skills: list[str]
    active: bool


@dataclass(frozen=True, slots=True)
class TeamRow(Row):
    id: int
    name: str
    calendar_id: int | None


@dataclass(frozen=True, slots=True)
class PolicyRow(Row):
    id: int
    name: str
    tier: str
    priority: str
    first_response_seconds: int
    resolution_seconds: int
    calendar_id: int | None


@dataclass(frozen=True, slots=True)
class CalendarRow(Row):
    id: int
    name: str
    time_zone: str
    weekly_hours: dict[str, Any]
    holidays: list[date]


@dataclass(frozen=True, slots=True)
class RequestRow(Row):
    """A service request as stored; the lifecycle and the SLA clock see it through its methods."""

    id: int
    number: str
    customer_id: int
    type: str
    channel: str
    subject: str
    description: str
    priority: str
    status: str
    financial_impact_amount: Decimal | None
    financial_impact_currency: str | None
    invoice_id: int | None
    payment_id: int | None
    team_id: int | None
    assignee_id: int | None
    escalated: bool
    created_by_subject: str
    sla_policy_id: int
    first_response_due_at: datetime
    resolution_due_at: datetime
    first_responded_at: datetime | None
    paused_at: datetime | None
    paused_seconds: int
    first_response_breached_at: datetime | None
    resolution_breached_at: datetime | None
    first_response_at_risk_at: datetime | None
    resolution_at_risk_at: datetime | None
    resolution_code: str | None
    resolution_summary: str | None
    resolved_by_id: int | None
    reopened_count: int
    resolved_at: datetime | None
    closed_at: datetime | None
    cancelled_at: datetime | None
    duplicate_of_id: int | None
    created_at: datetime
    updated_at: datetime
    version: int

    def lifecycle_facts(self, *, has_pending_approval: bool) -> RequestFacts:
        """The lifecycle's view: THE one place the services and `availableTransitions` build it."""
        return RequestFacts(
            status=RequestStatus(self.status),
            customer_id=self.customer_id,
            version=self.version,
            assignee_id=self.assignee_id,
            resolved_at=self.resolved_at,
            has_pending_approval=has_pending_approval,
        )

    def sla_snapshot(self, policy: SlaPolicy) -> SlaSnapshot:
        """The SLA clock's view of the stored columns (the engine, the services and `Sla` alike)."""
        return SlaSnapshot(
            status=RequestStatus(self.status),
            policy=policy,
            first_response_due_at=self.first_response_due_at,
            resolution_due_at=self.resolution_due_at,
            first_responded_at=self.first_responded_at,
            resolved_at=self.resolved_at,
            closed_at=self.closed_at,
            cancelled_at=self.cancelled_at,
            paused_at=self.paused_at,
            first_response_breached_at=self.first_response_breached_at,
            resolution_breached_at=self.resolution_breached_at,
        )

    def alerted_targets(self) -> frozenset[tuple[RequestEventKind, SlaTarget]]:
        """The SLA alerts already emitted (the engine stamps one column per alert)."""
        stamps = (
            (self.first_response_at_risk_at, RequestEventKind.SLA_AT_RISK, SlaTarget.FIRST_RESPONSE),
            (self.resolution_at_risk_at, RequestEventKind.SLA_AT_RISK, SlaTarget.RESOLUTION),
            (self.first_response_breached_at, RequestEventKind.SLA_BREACHED, SlaTarget.FIRST_RESPONSE),
            (self.resolution_breached_at, RequestEventKind.SLA_BREACHED, SlaTarget.RESOLUTION),
        )
        return frozenset((kind, target) for stamp, kind, target in stamps if stamp is not None)


@dataclass(frozen=True, slots=True)
class CommentRow(Row):
    id: int
    request_id: int
    body: str
    visibility: str
    author_subject: str
    author_name: str
    author_role: str
    channel: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ApprovalRow(Row):
    id: int
    request_id: int
    kind: str
    amount: Decimal | None
    currency: str | None
    amount_usd: Decimal | None
    consumed_amount: Decimal
    required_level: str
    required_approvals: int
    status: str
    justification: str
    requested_by_id: int
    requested_at: datetime
    decided_at: datetime | None


@dataclass(frozen=True, slots=True)
class DecisionRow(Row):
    id: int
    approval_id: int
    approver_id: int
    decision: str
    comment: str | None
    decided_at: datetime


@dataclass(frozen=True, slots=True)
class AdjustmentRow(Row):
    id: int
    kind: str
    invoice_id: int
    request_id: int
    amount: Decimal
    currency: str
    approval_id: int | None
    posted_at: datetime
    posted_by_id: int


@dataclass(frozen=True, slots=True)
class AuditRow(Row):
    sequence: int
    occurred_at: datetime
    actor_subject: str
    action: str
    entity_type: str
    entity_id: str
    before: Any
    after: Any
    previous_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """A request with the SLA policy and calendar it is measured against."""

    request: RequestRow
    policy: PolicyRow
    calendar: CalendarRow | None
