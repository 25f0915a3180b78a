"""Payloads of the request lifecycle mutations."""

from __future__ import annotations

import strawberry

from schema.payloads import UserError
from schema.types.refs import CommentRef, ServiceRequestRef

__all__ = ["AddCommentPayload", "MarkDuplicatePayload", "ServiceRequestPayload"]


@strawberry.type
class ServiceRequestPayload:
    service_request: ServiceRequestRef | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class AddCommentPayload:
    comment: CommentRef | None = None
    service_request: ServiceRequestRef | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class MarkDuplicatePayload:
    service_request: ServiceRequestRef | None = strawberry.field(
        default=None, description="The duplicate, now CANCELLED; `duplicateOf` is the original."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)
