"""Query-side inputs: filters and orderings of the contract."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from domain.enums import (
    ApprovalStatus,
    Channel,
    CustomerSegment,
    KycStatus,
    Priority,
    RequestEventKind,
    RequestStatus,
    RequestType,
    RiskRating,
    SlaState,
)
from schema.enums import OrderDirection, ServiceRequestOrderField

__all__ = [
    "ApprovalFilter",
    "CustomerFilter",
    "RequestEventFilter",
    "ServiceRequestFilter",
    "ServiceRequestOrder",
]


@strawberry.input
class ServiceRequestOrder:
    field: ServiceRequestOrderField
    direction: OrderDirection


@strawberry.input
class ServiceRequestFilter:
    status: list[RequestStatus] | None = None
    type: list[RequestType] | None = None
    priority: list[Priority] | None = None
    channel: list[Channel] | None = None
    sla_state: list[SlaState] | None = None
    customer_id: strawberry.ID | None = None
    team_id: strawberry.ID | None = None
    assignee_id: strawberry.ID | None = None
    invoice_id: strawberry.ID | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    search: str | None = strawberry.field(
        default=None, description="Matches number, subject and description."
    )
    min_financial_impact: Decimal | None = None


@strawberry.input
class CustomerFilter:
    search: str | None = None
    kyc_status: list[KycStatus] | None = None
    risk_rating: list[RiskRating] | None = None
    segment: list[CustomerSegment] | None = None


@strawberry.input
class ApprovalFilter:
    status: list[ApprovalStatus] | None = None
    decidable_by_viewer: bool | None = strawberry.field(
        default=None, description="Only approvals the viewer may decide now."
    )


@strawberry.input
class RequestEventFilter:
    service_request_id: strawberry.ID | None = None
    customer_id: strawberry.ID | None = None
    team_id: strawberry.ID | None = None
    kinds: list[RequestEventKind] | None = None
