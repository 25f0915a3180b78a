"""Staff and teams as routing and assignment need them: members, workload, the last assignment."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, and_, bindparam, func, select, update
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


def _members(team_id: Any) -> Any:
    return select(TEAM_MEMBERS.c.staff_id).where(TEAM_MEMBERS.c.team_id == team_id)


def _lock(team_id: Any) -> Any:
    return select(STAFF.c.id).where(STAFF.c.id.in_(_members(team_id))).order_by(STAFF.c.id).with_for_update()


@functools.cache
def _lock_by_name_sql() -> Any:
    team = (
        select(TEAMS.c.id).where(TEAMS.c.name == bindparam("name", type_=TEAMS.c.name.type)).scalar_subquery()
    )
    locked = _lock(team).cte("locked")
    return select(team.label("team_id"), select(func.count()).select_from(locked).scalar_subquery())


@functools.cache
def _lock_sql() -> Any:
    return _lock(bindparam("team_id", type_=BigInteger))


@functools.cache
def _candidates_sql() -> Any:
    workload = (
        select(func.count())
        .where(and_(R.assignee_id == STAFF.c.id, R.status.in_(_OPEN)))
        .correlate(STAFF)
        .scalar_subquery()
    )
    return select(
        STAFF.c.id, STAFF.c.skills, STAFF.c.active, STAFF.c.last_assigned_at, workload.label("open")
    ).where(STAFF.c.id.in_(_members(bindparam("team_id", type_=BigInteger))))


async def lock_team_by_name(session: AsyncSession, *, name: str) -> int | None:
    """The id of the team routing named (None: no such team), its members' staff rows locked as
    `routing_candidates` locks them; one statement. Then `routing_candidates(locked=True)`."""
    value = (await session.execute(_lock_by_name_sql(), {"name": name})).first()
    return None if value is None or value.team_id is None else int(value.team_id)


async def routing_candidates(session: AsyncSession, *, team_id: int, locked: bool = False) -> list[Candidate]:
    """The team's members with their open workload, locked so concurrent routings queue up.

    The lock (staff rows, in id order) makes the second of two concurrent
    routings count the first one's assignment instead of picking the same agent.
    The workload is read by a statement after the lock's (one started after the lock was
    granted sees every earlier routing committed); `locked`: `lock_team_by_name` took it.
    """
    if not locked:
        await session.execute(_lock_sql(), {"team_id": team_id})
    return [
        Candidate(
            staff_id=row.id,
            skills=tuple(row.skills or ()),
            open_workload=int(row.open),
            last_assigned_at=row.last_assigned_at,
            active=row.active,
        )
        for row in (await session.execute(_candidates_sql(), {"team_id": team_id})).all()
    ]


@functools.cache
def _mark_sql() -> Any:
    old = (
        select(STAFF.c.id, STAFF.c.last_assigned_at)
        .where(STAFF.c.id == bindparam("staff_id", type_=BigInteger))
        .subquery("old")
    )
    return (
        update(STAFF)
        .where(STAFF.c.id == old.c.id)
        .values(last_assigned_at=bindparam("now", type_=STAFF.c.last_assigned_at.type))
        .returning(old.c.last_assigned_at)
    )


async def mark_assigned(session: AsyncSession, *, staff_id: int, now: datetime) -> datetime | None:
    """Stamp `last_assigned_at` (routing's tie-breaker); the previous value. One statement."""
    previous: datetime | None = (
        await session.execute(_mark_sql(), {"staff_id": staff_id, "now": now})
    ).scalar()
    return previous
