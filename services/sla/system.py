"""Lifecycle operations the server performs itself (actor 'system'), with the same rules,
events and audit entries as the mutations (LIFECYCLE.md §1, §3).

- `escalate`: ESCALATE a request whose resolution target was breached;
- `auto_close`: CLOSE a RESOLVED request once the configured delay after its
  resolution (business rules `lifecycle.auto_close_days`) has passed.

Both run inside the caller's unit of work, which records the system as actor
(db.uow.ChangeActor.system()); the SLA engine calls them for the requests it
claimed.
"""

from __future__ import annotations

from db.repositories.configuration import load_rules
from db.repositories.requests import lock_request
from db.uow import UnitOfWork
from domain.enums import RequestStatus, TransitionAction
from domain.errors import DomainError
from domain.lifecycle import auto_close_due
from records.rows import RequestRow
from services.author import Author
from services.requests.transitions import TransitionSpec, perform_transition

__all__ = ["auto_close", "escalate"]


async def escalate(uow: UnitOfWork, *, request_id: int) -> RequestRow | None:
    """ESCALATE as the system (locks the request first); the request as written, None when not open.

    Escalating twice is allowed by the lifecycle (priority one more step);
    the SLA engine calls this once per resolution breach.
    """
    spec = TransitionSpec(action=TransitionAction.ESCALATE, expected_version=None)
    try:
        row, _, _ = await perform_transition(uow, request_id=request_id, spec=spec, author=Author.system())
    except DomainError:
        return None
    return row


async def auto_close(uow: UnitOfWork, *, request_id: int) -> bool:
    """CLOSE a RESOLVED request once its auto-close time has come (at `uow.now`); True when closed."""
    row = await lock_request(uow.session, request_id=request_id)
    if row is None:
        return False
    rules = await load_rules(uow.session)
    due = auto_close_due(
        status=RequestStatus(row.status), resolved_at=row.resolved_at, now=uow.now, rules=rules.lifecycle
    )
    if not due:
        return False
    spec = TransitionSpec(action=TransitionAction.CLOSE, expected_version=None)
    try:
        await perform_transition(uow, request_id=request_id, spec=spec, author=Author.system())
    except DomainError:
        return False
    return True
