"""The unit of work every change runs in: one transaction holding the change,
its outbox events and its audit entries.

Usage (a mutation): open, lock the request row first (so per-request commit
order equals event order), ask the domain, write, record events and audit
records, then `commit()`. Events are inserted and announced with NOTIFY in
the same transaction, so only committed changes are ever published.
Hooks registered with `after_commit` run once the commit succeeded.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import TracebackType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.audit import AuditRecord, append_audit, pending_rows
from db.events import Publisher, event_payload, publish_after_commit, write_outbox
from telemetry.spans import traced

__all__ = ["ChangeActor", "UnitOfWork"]

log = logging.getLogger("casegraph.uow")


@dataclass(frozen=True, slots=True)
class ChangeActor:
    """Who causes a change: a token subject, or 'system' for the SLA engine and routing."""

    subject: str
    name: str
    staff_id: int | None = None

    @classmethod
    def system(cls) -> ChangeActor:
        return cls(subject="system", name="system")


@dataclass
class UnitOfWork:
    sessionmaker: async_sessionmaker[AsyncSession]
    actor: ChangeActor
    now: datetime
    # Where committed events are announced when NOTIFY inside the transaction is not the
    # broadcast path (BROADCAST_URL=redis://…): the process's event hub or a Broadcast.
    publisher: Publisher | None = None
    session: AsyncSession = field(init=False)
    _events: list[dict[str, Any]] = field(default_factory=list, init=False)
    _audit: list[AuditRecord] = field(default_factory=list, init=False)
    _after_commit: list[Callable[[], Awaitable[None]]] = field(default_factory=list, init=False)
    _committed: bool = field(default=False, init=False)
    inserted_event_ids: list[int] = field(default_factory=list, init=False)

    async def __aenter__(self) -> UnitOfWork:
        self.session = self.sessionmaker()
        await self.session.begin()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if not self._committed:
                await self.session.rollback()
        finally:
            await self.session.close()
        if self._committed:
            for hook in self._after_commit:
                try:
                    await hook()
                except Exception:  # a failed notification must not turn a committed change into an error
                    log.exception("after-commit hook failed")

    def event(
        self,
        *,
        request_id: int,
        customer_id: int,
        team_id: int | None,
        kind: str,
        from_status: str | None = None,
        to_status: str | None = None,
        comment_id: int | None = None,
        approval_id: int | None = None,
        sla_target: str | None = None,
        due_at: datetime | None = None,
        details: dict[str, Any] | None = None,
        actor: ChangeActor | None = None,
    ) -> None:
        """Record a timeline/outbox event; written with the change, in call order."""
        who = actor or self.actor
        self._events.append(
            {
                "request_id": request_id,
                "customer_id": customer_id,
                "team_id": team_id,
                "kind": str(kind),
                "from_status": None if from_status is None else str(from_status),
                "to_status": None if to_status is None else str(to_status),
                "comment_id": comment_id,
                "approval_id": approval_id,
                "sla_target": None if sla_target is None else str(sla_target),
                "due_at": due_at,
                "details": details or {},
                "occurred_at": self.now,
                "actor_subject": who.subject,
                "actor_name": who.name,
            }
        )

    def audit(
        self,
        action: str,
        entity_type: str,
        entity_id: int | str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> int:
        """Record an audit entry (appended to the hash chain at commit); its position among this
        unit's entries (for `name_audited_entity`)."""
        self._audit.append(
            AuditRecord(self.actor.subject, action, entity_type, str(entity_id), before, after)
        )
        return len(self._audit) - 1

    def name_audited_entity(self, position: int, entity_id: int | str) -> None:
        """Name the entity of the entry recorded at `position` once its row is written (its id
        known only then), keeping the entry's place in the order of the change's entries."""
        self._audit[position] = replace(self._audit[position], entity_id=str(entity_id))

    def after_commit(self, hook: Callable[[], Awaitable[None]]) -> None:
        self._after_commit.append(hook)

    @traced("outbox.commit")
    async def commit(self) -> None:
        """Write events and the audit entries and announce the events (one statement), then commit."""
        if self._events:
            self.inserted_event_ids = await write_outbox(
                self.session, events=self._events, audit_rows=pending_rows(self._audit, now=self.now)
            )
            publisher = self.publisher
            if publisher is not None and not getattr(publisher, "transactional_notify", False):
                request_ids = sorted({e["request_id"] for e in self._events})
                kinds = sorted({e["kind"] for e in self._events})
                payload = event_payload(request_ids=request_ids, kinds=kinds)
                self.after_commit(lambda: publish_after_commit(publisher, payload))
        else:
            await append_audit(self.session, self._audit, now=self.now)
        await self.session.commit()
        self._committed = True
