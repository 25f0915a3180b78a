"""Staff: Agent and Team (the routing and workload view)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from domain.enums import ApprovalLevel, RequestType, Role
from records.rows import StaffRow, TeamRow
from schema import ids
from schema.context import TypeContext
from schema.types.node import Node
from schema.types.ready import now_or_later

__all__ = ["Agent", "Team"]

Ctx = Info[TypeContext, None]


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
        # Counted within the caller's customers (the loader's scope).
        return now_or_later(info.context.loaders.open_workload, self.row.id, _count)


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
        return now_or_later(info.context.loaders.team_open_requests, self.row.id, _count)


def _teams(rows: list[TeamRow]) -> list[Team]:
    return [Team.from_row(r) for r in rows]


def _agents(rows: list[StaffRow]) -> list[Agent]:
    return [Agent.from_row(r) for r in rows]


def _count(count: int) -> int:
    return count
