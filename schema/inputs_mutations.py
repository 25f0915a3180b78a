"""Inputs of the request lifecycle mutations (names and shapes fixed by the contract)."""

from __future__ import annotations

import strawberry

import schema.enums  # noqa: F401  (registers the domain enums with strawberry)
from domain.enums import Channel, CommentVisibility, Priority, RequestType, ResolutionCode
from schema.payloads import MoneyInput

__all__ = [
    "AddCommentInput",
    "AssignServiceRequestInput",
    "CreateServiceRequestInput",
    "MarkDuplicateInput",
    "ResolveServiceRequestInput",
    "TransitionServiceRequestInput",
    "TriageServiceRequestInput",
]


@strawberry.input
class CreateServiceRequestInput:
    customer_id: strawberry.ID | None = strawberry.field(
        default=None,
        description=(
            "Required for staff and partners; CUSTOMER callers may omit it (their own customer is used)."
        ),
    )
    type: RequestType
    channel: Channel
    subject: str
    description: str
    priority: Priority | None = strawberry.field(
        default=None, description="Derived from financial impact, customer tier and risk when omitted."
    )
    invoice_id: strawberry.ID | None = None
    payment_id: strawberry.ID | None = None
    financial_impact: MoneyInput | None = None
    idempotency_key: str | None = strawberry.field(
        default=None,
        description=(
            "Retries with the same key by the same caller return the first result, never a duplicate."
        ),
    )


@strawberry.input
class TriageServiceRequestInput:
    id: strawberry.ID
    expected_version: int
    type: RequestType | None = None
    priority: Priority | None = None


@strawberry.input
class AssignServiceRequestInput:
    id: strawberry.ID
    expected_version: int
    assignee_id: strawberry.ID | None = strawberry.field(
        default=None, description="Omitted: the routing engine picks the team and agent."
    )
    team_id: strawberry.ID | None = None


@strawberry.input
class TransitionServiceRequestInput:
    id: strawberry.ID
    expected_version: int
    message: str | None = strawberry.field(
        default=None,
        description=(
            "Shown on the timeline; becomes a PUBLIC comment where the transition talks to the customer."
        ),
    )


@strawberry.input
class ResolveServiceRequestInput:
    id: strawberry.ID
    expected_version: int
    code: ResolutionCode
    summary: str


@strawberry.input
class AddCommentInput:
    service_request_id: strawberry.ID
    body: str
    visibility: CommentVisibility


@strawberry.input
class MarkDuplicateInput:
    id: strawberry.ID = strawberry.field(description="The request to close as a duplicate.")
    expected_version: int
    duplicate_of_id: strawberry.ID = strawberry.field(
        description="The open request of the same customer that carries on; it receives the PUBLIC comments."
    )
    reason: str = strawberry.field(description="Why; becomes the duplicate's PUBLIC closing message.")
