"""Staff and teams as routing and assignment need them: members, workload, the last assignment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.tables import REQUESTS, STAFF, TEAM_MEMBERS, TEAMS
from domain.enums import OPEN_STATUSES
from domain.routing import Candidate

__all__ = [
    "StaffMember",
    "lock_team_by_name",
    "mark_assigned",
    "routing_candidates",
    "staff_member",
    "team_by_id",
    "team_by_name",
    "team_ids_of",
]

R = REQUESTS.c
_OPEN = [s.value for s in OPEN_STATUSES]


async def team_by_name(session: AsyncSession, *, name: str) -> int | None:
    """The id of the team routing named (None: no such team configured)."""
    return await session.scalar(select(TEAMS.c.id).where(TEAMS.c.name == name))


async def team_by_id(session: AsyncSession, *, team_id: int) -> int | None:
    """`team_id` when that team exists."""
    return await session.scalar(select(TEAMS.c.id).where(TEAMS.c.id == team_id))


async def team_ids_of(session: AsyncSession, *, staff_id: int) -> list[int]:
    """The teams a staff member belongs to, lowest id first."""
    stmt = (
        select(TEAM_MEMBERS.c.team_id)
        .where(TEAM_MEMBERS.c.staff_id == staff_id)
        .order_by(TEAM_MEMBERS.c.team_id)
    )
    return [int(i) for i in (await session.execute(stmt)).scalars()]


@dataclass(frozen=True, slots=True)
class StaffMember:
    id: int
    role: str
    active: bool


async def staff_member(session: AsyncSession, *, staff_id: int) -> StaffMember | None:
    """A staff member's role and whether they are active (None: no such staff member)."""
    stmt = select(STAFF.c.id, STAFF.c.role, STAFF.c.active).where(STAFF.c.id == staff_id)
    row = (await session.execute(stmt)).first()
    return StaffMember(row.id, row.role, row.active) if row is not None else None


async def lock_team_by_name(session: AsyncSession, *, name: str) -> int | None:
    """The id of the team routing named (None: no such team), its members' staff rows locked as
    `routing_candidates` locks them; one statement. Then `routing_candidates(locked=True)`."""
    team = select(TEAMS.c.id).where(TEAMS.c.name == name).scalar_subquery()
    members = select(TEAM_MEMBERS.c.staff_id).where(TEAM_MEMBERS.c.team_id == team)
    locked = (
        select(STAFF.c.id).where(STAFF.c.id.in_(members)).order_by(STAFF.c.id).with_for_update().cte("locked")
    )
    stmt = select(team.label("team_id"), select(func.count()).select_from(locked).scalar_subquery())
    value = (await session.execute(stmt)).first()
    return None if value is None or value.team_id is None else int(value.team_id)


async def routing_candidates(session: AsyncSession, *, team_id: int, locked: bool = False) -> list[Candidate]:
    """The team's members with their open workload, locked so concurrent routings queue up.

    The lock (staff rows, in id order) makes the second of two concurrent
    routings count the first one's assignment instead of picking the same agent.
    The workload is read by a statement after the lock's (one started after the lock was
    granted sees every earlier routing committed); `locked`: `lock_team_by_name` took it.
    """
    members = select(TEAM_MEMBERS.c.staff_id).where(TEAM_MEMBERS.c.team_id == team_id)
    if not locked:
        lock = select(STAFF.c.id).where(STAFF.c.id.in_(members)).order_by(STAFF.c.id).with_for_update()
        await session.execute(lock)
    workload = (
        select(func.count())
        .where(and_(R.assignee_id == STAFF.c.id, R.status.in_(_OPEN)))
        .correlate(STAFF)
        .scalar_subquery()
    )
    stmt = select(
        STAFF.c.id, STAFF.c.skills, STAFF.c.active, STAFF.c.last_assigned_at, workload.label("open")
    ).where(STAFF.c.id.in_(members))
    return [
        Candidate(
            staff_id=row.id,
            skills=tuple(row.skills or ()),
            open_workload=int(row.open),
            last_assigned_at=row.last_assigned_at,
            active=row.active,
        )
        for row in (await session.execute(stmt)).all()
    ]


async def mark_assigned(session: AsyncSession, *, staff_id: int, now: datetime) -> datetime | None:
    """Stamp `last_assigned_at` (routing's tie-breaker); the previous value. One statement."""
    old = select(STAFF.c.id, STAFF.c.last_assigned_at).where(STAFF.c.id == staff_id).subquery("old")
    stmt = (
        update(STAFF)
        .where(STAFF.c.id == old.c.id)
        .values(last_assigned_at=now)
        .returning(old.c.last_assigned_at)
    )
    previous: datetime | None = (await session.execute(stmt)).scalar()
    return previous
