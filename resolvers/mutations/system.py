"""Lifecycle operations the server performs itself (actor 'system'), with the same rules,
events and audit entries as the mutations.

- `escalate_by_system`: the SLA engine escalates a request whose resolution
  target was breached (ESCALATE);
- `auto_close`: a RESOLVED request is CLOSED 7 days (configurable) after its
  resolution.

Each opens its own transaction; `escalate_within` runs inside a caller's
unit of work (e.g. the SLA engine's, after it recorded SLA_BREACHED).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.repositories.configuration import load_rules
from db.repositories.requests import lock_request
from db.uow import ChangeActor, UnitOfWork
from domain.enums import RequestStatus, TransitionAction
from domain.errors import DomainError
from domain.lifecycle import auto_close_due, is_open
from records.rows import RequestRow
from resolvers.mutations.request_change import Author
from resolvers.mutations.requests_transitions import TransitionSpec, perform_transition

__all__ = ["auto_close", "escalate_by_system", "escalate_within"]


async def escalate_within(uow: UnitOfWork, *, request_id: int) -> RequestRow | None:
    """ESCALATE as the system inside `uow` (locks the request first); None when it is not open.

    Escalating twice is allowed by the lifecycle (priority one more step);
    the SLA engine calls this once per resolution breach.
    """
    spec = TransitionSpec(action=TransitionAction.ESCALATE, expected_version=None)
    try:
        row, _ = await perform_transition(uow, request_id=request_id, spec=spec, author=Author.system())
    except DomainError:
        return None
    return row


async def escalate_by_system(
    sessionmaker: async_sessionmaker[AsyncSession], request_id: int, now: datetime
) -> bool:
    """Escalate one request in a transaction of its own; True when it was escalated."""
    async with UnitOfWork(sessionmaker, actor=ChangeActor.system(), now=now) as uow:
        row = await escalate_within(uow, request_id=request_id)
        if row is None:
            return False
        await uow.commit()
        return True


async def auto_close(sessionmaker: async_sessionmaker[AsyncSession], request_id: int, now: datetime) -> bool:
    """CLOSE a RESOLVED request once its auto-close time has come; True when it was closed."""
    async with UnitOfWork(sessionmaker, actor=ChangeActor.system(), now=now) as uow:
        row = await lock_request(uow.session, request_id=request_id)
        if row is None or is_open(RequestStatus(row.status)):
            return False
        rules = await load_rules(uow.session)
        if not auto_close_due(
            status=RequestStatus(row.status), resolved_at=row.resolved_at, now=now, rules=rules.lifecycle
        ):
            return False
        spec = TransitionSpec(action=TransitionAction.CLOSE, expected_version=None)
        try:
            await perform_transition(uow, request_id=request_id, spec=spec, author=Author.system())
        except DomainError:
            return False
        await uow.commit()
        return True
