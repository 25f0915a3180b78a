"""The authenticated caller."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from domain.enums import Role
from schema.context import Context
from schema.types.ready import optional
from schema.types.refs import AgentRef, CustomerRef

__all__ = ["Viewer", "viewer_for"]


@strawberry.type(description="The authenticated caller.")
class Viewer:
    subject: str = strawberry.field(description="Subject of the access token.")
    name: str | None
    roles: list[Role]
    scopes: list[str]

    @strawberry.field(description="Set for CUSTOMER callers: the customer they belong to.")
    def customer(self, info: Info[Context, None]) -> CustomerRef | None:
        from schema.types.customer import Customer

        p = info.context.principal
        if not p.is_customer or p.customer_id is None:
            return None
        return optional(info.context.loaders.customer, p.customer_id, Customer.from_row)

    @strawberry.field(description="Set for staff callers.")
    def agent(self, info: Info[Context, None]) -> AgentRef | None:
        from schema.types.agent import Agent

        staff_id = info.context.principal.staff_id
        if staff_id is None:
            return None
        # Synchronous when the loader holds the row: see schema.types.ready.
        return optional(info.context.loaders.staff, staff_id, Agent.from_row)


async def viewer_for(ctx: Context) -> Viewer:
    """The Viewer of the operation's principal."""
    p = ctx.principal
    return Viewer(
        subject=p.subject,
        name=p.name,
        roles=sorted(p.roles, key=lambda r: list(Role).index(r)),
        scopes=sorted(p.scopes),
    )
