"""The authenticated caller."""

from __future__ import annotations

import strawberry

from schema.context import Context
from schema.enums import Role

__all__ = ["Viewer", "viewer_for"]


@strawberry.type(description="The authenticated caller.")
class Viewer:
    subject: str = strawberry.field(description="Subject of the access token.")
    name: str | None
    roles: list[Role]
    scopes: list[str]


async def viewer_for(ctx: Context) -> Viewer:
    p = ctx.principal
    return Viewer(
        subject=p.subject,
        name=p.name,
        roles=sorted(p.roles, key=lambda r: list(Role).index(r)),
        scopes=sorted(p.scopes),
    )
