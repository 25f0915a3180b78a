"""The email channel's mutations: link or discard held mail (EMAIL.md 4; staff with requests:write)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from auth.permissions import Capability
from domain.errors import DomainError
from resolvers.context import Context
from resolvers.mutations.common import run
from resolvers.nodes import node_of
from schema import ids
from schema.inputs_mail import DiscardInboundMailInput, LinkInboundMailInput
from schema.payloads import user_error
from schema.payloads_mail import DiscardInboundMailPayload, LinkInboundMailPayload
from schema.types.mail import InboundMail
from schema.types.request import ServiceRequest
from services.author import Author
from services.mail.held import LinkSpec, discard_inbound_mail, link_inbound_mail

__all__ = ["MailMutations"]

Ctx = Info[Context, None]


@strawberry.type
class MailMutations:
    @strawberry.mutation(
        description=(
            "Staff: create the request a held mail asks for, for this customer, the sender as requester."
        )
    )
    async def link_inbound_mail(self, info: Ctx, input: LinkInboundMailInput) -> LinkInboundMailPayload:
        ctx = info.context
        author = Author.of(ctx.require(Capability.HANDLE_MAIL))
        spec = LinkSpec(
            inbound_id=ids.row_id(input.inbound_mail_id, "InboundMail"),
            customer_id=ids.row_id(input.customer_id, "Customer"),
            create_contact=bool(input.create_contact),
        )
        outcome = await run(ctx, lambda uow: link_inbound_mail(uow, spec=spec, author=author))
        if isinstance(outcome, DomainError):
            return LinkInboundMailPayload(user_errors=[user_error(outcome)])
        return LinkInboundMailPayload(service_request=await node_of(ctx, ServiceRequest, outcome.id))

    @strawberry.mutation(description="Staff: set a held mail aside as DISCARDED, with the reason.")
    async def discard_inbound_mail(
        self, info: Ctx, input: DiscardInboundMailInput
    ) -> DiscardInboundMailPayload:
        ctx = info.context
        author = Author.of(ctx.require(Capability.HANDLE_MAIL))
        inbound_id = ids.row_id(input.inbound_mail_id, "InboundMail")
        reason = input.reason
        outcome = await run(
            ctx, lambda uow: discard_inbound_mail(uow, inbound_id=inbound_id, reason=reason, author=author)
        )
        if isinstance(outcome, DomainError):
            return DiscardInboundMailPayload(user_errors=[user_error(outcome)])
        return DiscardInboundMailPayload(inbound_mail=InboundMail.from_row(outcome))
