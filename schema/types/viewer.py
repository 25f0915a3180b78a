"""The authenticated caller."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from auth.principal import Principal
from domain.enums import Role
from schema.context import TypeContext
from schema.types.ready import optional
from schema.types.refs import AgentRef, CustomerRef

__all__ = ["Viewer"]


@strawberry.type(description="The authenticated caller.")
class Viewer:
    subject: str = strawberry.field(description="Subject of the access token.")
    name: str | None
    roles: list[Role]
    scopes: list[str]

    @classmethod
    def of(cls, principal: Principal) -> Viewer:
        """The Viewer of the operation's principal."""
        return cls(
            subject=principal.subject,
            name=principal.name,
            roles=sorted(principal.roles, key=lambda r: list(Role).index(r)),
            scopes=sorted(principal.scopes),
        )

    @strawberry.field(description="Set for CUSTOMER callers: the customer they belong to.")
    def customer(self, info: Info[TypeContext, None]) -> CustomerRef | None:
        from schema.types.customer import Customer

        p = info.context.principal
        if not p.is_customer or p.customer_id is None:
            return None
        return optional(info.context.loaders.customer, p.customer_id, Customer.from_row)

    @strawberry.field(description="Set for staff callers.")
    def agent(self, info: Info[TypeContext, None]) -> AgentRef | None:
        from schema.types.agent import Agent

        staff_id = info.context.principal.staff_id
        if staff_id is None:
            return None
        # Synchronous when the loader holds the row: see schema.types.ready.
        return optional(info.context.loaders.staff, staff_id, Agent.from_row)
