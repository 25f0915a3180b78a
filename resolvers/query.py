"""Query root: the read side of the contract."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from schema.context import Context
from schema.types.viewer import Viewer, viewer_for

__all__ = ["Query"]


@strawberry.type
class Query:
    @strawberry.field(description="The authenticated caller.")
    async def viewer(self, info: Info[Context, None]) -> Viewer:
        return await viewer_for(info.context)
