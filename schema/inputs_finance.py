"""Inputs of the approval, adjustment and payment mutations (names and shapes fixed by the contract)."""

from __future__ import annotations

import strawberry

import schema.enums  # noqa: F401 - registers the domain enums as GraphQL enums
from domain.enums import AdjustmentKind, ApprovalKind, Decision
from schema.payloads import MoneyInput

__all__ = ["ApplyPaymentInput", "DecideApprovalInput", "PostAdjustmentInput", "RequestApprovalInput"]


@strawberry.input
class RequestApprovalInput:
    service_request_id: strawberry.ID
    expected_version: int
    kind: ApprovalKind
    amount: MoneyInput | None = None
    justification: str


@strawberry.input
class DecideApprovalInput:
    approval_id: strawberry.ID
    decision: Decision
    comment: str | None = None


@strawberry.input
class PostAdjustmentInput:
    service_request_id: strawberry.ID
    invoice_id: strawberry.ID
    kind: AdjustmentKind
    amount: MoneyInput
    approval_id: strawberry.ID | None = strawberry.field(
        default=None, description="Required unless the amount is within the agent's own limit."
    )


@strawberry.input(
    description="Posts a payment to the invoice it belongs to (the ledger fix of a payment-posting request)."
)
class ApplyPaymentInput:
    service_request_id: strawberry.ID
    payment_id: strawberry.ID
    invoice_id: strawberry.ID | None = strawberry.field(
        default=None,
        description=(
            "The invoice to apply the payment to; null leaves it UNAPPLIED on the customer's account."
        ),
    )
    approval_id: strawberry.ID | None = strawberry.field(
        default=None,
        description=(
            "Required above the staff member's own limit (PAYMENT_REALLOCATION in the approval matrix)."
        ),
    )
