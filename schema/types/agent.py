"""Staff: Agent and Team (the routing and workload view)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from domain.enums import ApprovalLevel, RequestType, Role
from records.rows import StaffRow, TeamRow
from schema import ids
from schema.context import Context
from schema.types.node import Node, load_node
from schema.types.ready import now_or_later
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

    # Relation fields are synchronous when the loaders hold their rows: see schema.types.ready.

    @strawberry.field
    def teams(self, info: Ctx) -> list[Team]:
        return now_or_later(info.context.loaders.teams_by_staff, self.row.id, _teams)

    @strawberry.field
    def skills(self) -> list[RequestType]:
        return [RequestType(s) for s in self.row.skills if s in RequestType.__members__]

    @strawberry.field(
        description="Requests assigned to this agent that are not RESOLVED, CLOSED or CANCELLED."
    )
    def open_workload(self, info: Ctx) -> int:
        # Counted within the caller's customers: other customers' requests do not exist for them.
        key = (self.row.id, customer_scope(info.context))
        return now_or_later(info.context.loaders.open_workload, key, _count)


@strawberry.type
class Team(Node):
    row: strawberry.Private[TeamRow]
    name: str

    @classmethod
    def from_row(cls, row: TeamRow) -> Team:
        return cls(id=strawberry.ID(ids.encode("Team", row.id)), row=row, name=row.name)

    @strawberry.field
    def members(self, info: Ctx) -> list[Agent]:
        return now_or_later(info.context.loaders.members_by_team, self.row.id, _agents)

    @strawberry.field
    def open_requests(self, info: Ctx) -> int:
        key = (self.row.id, customer_scope(info.context))
        return now_or_later(info.context.loaders.team_open_requests, key, _count)


def _teams(rows: list[TeamRow]) -> list[Team]:
    return [Team.from_row(r) for r in rows]


def _agents(rows: list[StaffRow]) -> list[Agent]:
    return [Agent.from_row(r) for r in rows]


def _count(count: int) -> int:
    return count


async def agent_by_id(ctx: Context, pk: int) -> Agent | None:
    """The staff member as an Agent, if the caller may read the staff directory."""
    return await load_node(ctx, "Agent", pk)  # type: ignore[no-any-return]


async def all_teams(ctx: Context) -> list[Team]:
    """`teams`: every team by name."""
    from sqlalchemy import select

    from db.tables import TEAMS, columns

    async with ctx.services.engine.connect() as conn:
        rows = (
            await conn.execute(select(*columns(TEAMS, TeamRow)).order_by(TEAMS.c.name, TEAMS.c.id))
        ).mappings()
        teams = [TeamRow.of(r) for r in rows]
    for row in teams:
        ctx.loaders.team.prime(row.id, row)
    return [Team.from_row(r) for r in teams]
