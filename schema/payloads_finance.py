"""Payloads of the approval, adjustment and payment mutations."""

from __future__ import annotations

import strawberry

from schema.payloads import UserError
from schema.types.refs import AdjustmentRef, ApprovalRef, PaymentRef, ServiceRequestRef

__all__ = ["AdjustmentPayload", "ApprovalPayload", "PaymentPayload"]


@strawberry.type
class ApprovalPayload:
    approval: ApprovalRef | None = None
    service_request: ServiceRequestRef | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class AdjustmentPayload:
    adjustment: AdjustmentRef | None = None
    service_request: ServiceRequestRef | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class PaymentPayload:
    payment: PaymentRef | None = None
    service_request: ServiceRequestRef | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
