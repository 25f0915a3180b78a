"""Payloads of the email channel's mutations (EMAIL.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from schema.payloads import UserError
from schema.types.refs import ServiceRequestRef

if TYPE_CHECKING:
    from schema.types.mail import InboundMail

__all__ = ["DiscardInboundMailPayload", "LinkInboundMailPayload"]


@strawberry.type
class LinkInboundMailPayload:
    service_request: ServiceRequestRef | None = strawberry.field(
        default=None, description="The request created from the held mail."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DiscardInboundMailPayload:
    inbound_mail: Annotated[InboundMail, strawberry.lazy("schema.types.mail")] | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
