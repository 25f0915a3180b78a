"""Inputs of the email channel's mutations (EMAIL.md)."""

from __future__ import annotations

import strawberry

__all__ = ["DiscardInboundMailInput", "LinkInboundMailInput"]


@strawberry.input
class LinkInboundMailInput:
    inbound_mail_id: strawberry.ID
    customer_id: strawberry.ID
    create_contact: bool | None = strawberry.field(
        default=None, description="Make the sender an active contact of the customer (later mail is known)."
    )


@strawberry.input
class DiscardInboundMailInput:
    inbound_mail_id: strawberry.ID
    reason: str
