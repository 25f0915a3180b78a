"""Staff reads: `teams`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from auth.permissions import Capability
from db.queries import lookups
from resolvers.loaders import primer
from schema.types.agent import Team

if TYPE_CHECKING:
    from resolvers.context import Context

__all__ = ["all_teams"]


async def all_teams(ctx: Context) -> list[Team]:
    """`teams`: every team by name (FORBIDDEN without the staff directory)."""
    ctx.require(Capability.READ_TEAMS)
    async with ctx.loaders.connection() as conn:
        rows = await lookups.all_teams(conn)
    primer(ctx.loaders.team)(rows)
    return [Team.from_row(row) for row in rows]
