"""SLA policies with their business calendars, as the SLA clock needs them."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.tables import CALENDARS, POLICIES
from domain.calendar import calendar_from_json
from domain.enums import Priority, SlaTier
from domain.sla import SlaPolicy

__all__ = ["LoadedPolicy", "loaded_policy", "policy_by_id", "policy_for", "policy_select"]


@dataclass(frozen=True, slots=True)
class LoadedPolicy:
    id: int
    policy: SlaPolicy


def policy_select() -> Any:
    """The columns `loaded_policy` reads: a policy and its calendar (to extend with more columns)."""
    return _policy_select()


def loaded_policy(row: Any) -> LoadedPolicy:
    return _loaded(row)


def _policy_select() -> Any:
    p = POLICIES.c
    c = CALENDARS.c
    return select(
        p.id, p.first_response_seconds, p.resolution_seconds, c.name, c.time_zone, c.weekly_hours, c.holidays
    ).select_from(POLICIES.outerjoin(CALENDARS, c.id == p.calendar_id))


def _loaded(row: Any) -> LoadedPolicy:
    calendar = None
    if row.time_zone is not None:
        calendar = calendar_from_json(row.time_zone, row.weekly_hours, row.holidays or (), name=row.name)
    return LoadedPolicy(row.id, SlaPolicy(row.first_response_seconds, row.resolution_seconds, calendar))


@functools.cache
def _policy_for_sql() -> Any:
    return _policy_select().where(
        POLICIES.c.tier == bindparam("tier", type_=POLICIES.c.tier.type),
        POLICIES.c.priority == bindparam("priority", type_=POLICIES.c.priority.type),
    )


@functools.cache
def _policy_by_id_sql() -> Any:
    return _policy_select().where(POLICIES.c.id == bindparam("policy_id", type_=BigInteger))


async def policy_for(session: AsyncSession, *, tier: SlaTier | None, priority: Priority) -> LoadedPolicy:
    """The SLA policy of (tier or STANDARD) x priority, with its calendar (None: 24x7)."""
    wanted = (tier or SlaTier.STANDARD).value
    row = (await session.execute(_policy_for_sql(), {"tier": wanted, "priority": priority.value})).first()
    if row is None:
        raise LookupError(f"no SLA policy for {wanted} x {priority}")
    return _loaded(row)


async def policy_by_id(session: AsyncSession, *, policy_id: int) -> LoadedPolicy:
    """The request's stored SLA policy with its calendar."""
    row = (await session.execute(_policy_by_id_sql(), {"policy_id": policy_id})).one()
    return _loaded(row)
