"""Staff: Agent and Team (the routing and workload view)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from db.queries.rows import StaffRow, TeamRow
from domain.enums import ApprovalLevel, RequestType, Role
from schema import ids
from schema.context import Context
from schema.types.node import Node, load_node
from schema.types.scope import customer_scope

__all__ = ["Agent", "Team", "agent_by_id"]

Ctx = Info[Context, None]


@strawberry.type
class Agent(Node):
    row: strawberry.Private[StaffRow]
    name: str
    email: str
    role: Role
    approval_level: ApprovalLevel

    @classmethod
    def from_row(cls, row: StaffRow) -> Agent:
        return cls(
            id=strawberry.ID(ids.encode("Agent", row.id)),
            row=row,
            name=row.name,
            email=row.email,
            role=Role(row.role),
            approval_level=ApprovalLevel(row.approval_level),
        )

    @strawberry.field
    async def teams(self, info: Ctx) -> list[Team]:
        rows = await info.context.loaders.teams_by_staff.load(self.row.id)
        return [Team.from_row(r) for r in rows]

    @strawberry.field
    def skills(self) -> list[RequestType]:
        return [RequestType(s) for s in self.row.skills if s in RequestType.__members__]

    @strawberry.field(
        description="Requests assigned to this agent that are not RESOLVED, CLOSED or CANCELLED."
    )
    async def open_workload(self, info: Ctx) -> int:
        # Counted within the caller's customers: other customers' requests do not exist for them.
        return await info.context.loaders.open_workload.load((self.row.id, customer_scope(info.context)))


@strawberry.type
class Team(Node):
    row: strawberry.Private[TeamRow]
    name: str

    @classmethod
    def from_row(cls, row: TeamRow) -> Team:
        return cls(id=strawberry.ID(ids.encode("Team", row.id)), row=row, name=row.name)

    @strawberry.field
    async def members(self, info: Ctx) -> list[Agent]:
        rows = await info.context.loaders.members_by_team.load(self.row.id)
        return [Agent.from_row(r) for r in rows]

    @strawberry.field
    async def open_requests(self, info: Ctx) -> int:
        return await info.context.loaders.team_open_requests.load((self.row.id, customer_scope(info.context)))


async def agent_by_id(ctx: Context, pk: int) -> Agent | None:
    """The staff member as an Agent, if the caller may read the staff directory."""
    return await load_node(ctx, "Agent", pk)  # type: ignore[no-any-return]


async def all_teams(ctx: Context) -> list[Team]:
    """`teams`: every team by name."""
    from sqlalchemy import select

    from db.queries.rows import TEAMS, columns

    async with ctx.services.engine.connect() as conn:
        rows = (
            await conn.execute(select(*columns(TEAMS, TeamRow)).order_by(TEAMS.c.name, TEAMS.c.id))
        ).mappings()
        teams = [TeamRow.of(r) for r in rows]
    for row in teams:
        ctx.loaders.team.prime(row.id, row)
    return [Team.from_row(r) for r in teams]
