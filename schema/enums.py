"""The contract's enums, exposed to GraphQL from the domain's vocabulary."""

from __future__ import annotations

from enum import Enum

import strawberry

from domain import enums as d

__all__ = [
    "AdjustmentKind",
    "ApprovalKind",
    "ApprovalLevel",
    "ApprovalStatus",
    "Channel",
    "CommentVisibility",
    "CustomerSegment",
    "Decision",
    "InboundMailStatus",
    "InvoiceStatus",
    "KycStatus",
    "OrderDirection",
    "OutboundMailStatus",
    "PaymentStatus",
    "Priority",
    "RequestEventKind",
    "RequestStatus",
    "RequestType",
    "ResolutionCode",
    "RiskRating",
    "Role",
    "ServiceRequestOrderField",
    "SlaState",
    "SlaTarget",
    "SlaTier",
    "TransitionAction",
    "WebhookDeliveryStatus",
]

Role = strawberry.enum(d.Role)
ApprovalLevel = strawberry.enum(
    d.ApprovalLevel,
    description="Ordered authority for approvals: AGENT < SUPERVISOR < FINANCE_MANAGER < CONTROLLER.",
)
KycStatus = strawberry.enum(d.KycStatus)
RiskRating = strawberry.enum(d.RiskRating)
CustomerSegment = strawberry.enum(d.CustomerSegment)
SlaTier = strawberry.enum(d.SlaTier)
InvoiceStatus = strawberry.enum(d.InvoiceStatus)
PaymentStatus = strawberry.enum(d.PaymentStatus)
AdjustmentKind = strawberry.enum(d.AdjustmentKind)
RequestType = strawberry.enum(d.RequestType)
Channel = strawberry.enum(d.Channel)
Priority = strawberry.enum(d.Priority)
RequestStatus = strawberry.enum(d.RequestStatus)
SlaState = strawberry.enum(d.SlaState)
SlaTarget = strawberry.enum(d.SlaTarget)
ResolutionCode = strawberry.enum(d.ResolutionCode)
TransitionAction = strawberry.enum(d.TransitionAction)
CommentVisibility = strawberry.enum(d.CommentVisibility)
ApprovalKind = strawberry.enum(d.ApprovalKind)
ApprovalStatus = strawberry.enum(d.ApprovalStatus)
Decision = strawberry.enum(d.Decision)
RequestEventKind = strawberry.enum(d.RequestEventKind)
WebhookDeliveryStatus = strawberry.enum(d.WebhookDeliveryStatus)


@strawberry.enum
class ServiceRequestOrderField(Enum):
    CREATED_AT = "CREATED_AT"
    UPDATED_AT = "UPDATED_AT"
    PRIORITY = "PRIORITY"
    RESOLUTION_DUE_AT = "RESOLUTION_DUE_AT"
    FINANCIAL_IMPACT = "FINANCIAL_IMPACT"


@strawberry.enum
class OrderDirection(Enum):
    ASC = "ASC"
    DESC = "DESC"


InboundMailStatus = strawberry.enum(
    d.InboundMailStatus, description="What became of a received mail (EMAIL.md)."
)
OutboundMailStatus = strawberry.enum(
    d.OutboundMailStatus, description="Where a mail casegraph sends stands; SKIPPED: SMTP_URL unset."
)
