"""One change to one locked request: collect column values, comments and events, then write them.

Every lifecycle operation (mutations, the SLA engine's escalation,
auto-close) goes through `RequestChange.save`, which bumps `version` once,
keeps `next_sla_check_at` in step with the SLA clock, appends the audit entry
of the changed columns and records the events in call order.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from db.repositories.policies import LoadedPolicy
from db.repositories.requests import changed, insert_comment, merged, next_sla_check, update_request
from db.uow import UnitOfWork
from domain.enums import CommentVisibility, RequestEventKind, RequestStatus
from domain.lifecycle import comment_effect
from records.rows import RequestRow
from services.author import Author

__all__ = ["RequestChange"]


class RequestChange:
    """Accumulates what one operation does to a request locked by the caller."""

    def __init__(
        self,
        uow: UnitOfWork,
        row: RequestRow,
        *,
        policy: LoadedPolicy,
        author: Author,
        action: str,
        auto_close_after: timedelta | None = None,
    ) -> None:
        self.uow = uow
        # The configured delay (business rules `lifecycle.auto_close_days`) when the change may
        # resolve the request: the SLA engine's next check of a RESOLVED request is its auto-close.
        self.auto_close_after = auto_close_after
        self.before = row
        self.policy = policy
        self.author = author
        self.action = action
        self.values: dict[str, Any] = {}
        self.comment_ids: list[int] = []
        self._events: list[dict[str, Any]] = []

    @property
    def now(self) -> datetime:
        return self.uow.now

    @property
    def current(self) -> RequestRow:
        """The request as it reads with the values collected so far."""
        return merged(self.before, self.values)

    def set(self, **values: Any) -> None:
        self.values.update(values)

    def event(self, kind: RequestEventKind, **fields: Any) -> None:
        self._events.append({"kind": kind.value, **fields})

    def move_to(self, status: RequestStatus, timestamp_field: str) -> None:
        """Enter `status` (stamping its timestamp column) and record STATUS_CHANGED."""
        self.status_change(status, timestamp_field)
        self.event(RequestEventKind.STATUS_CHANGED, from_status=self.before.status, to_status=status.value)

    def status_change(self, status: RequestStatus, timestamp_field: str) -> None:
        self.set(status=status.value, **{timestamp_field: self.now})

    async def comment(self, body: str, visibility: CommentVisibility) -> int:
        """Write a comment by the author (COMMENTED event); a staff PUBLIC one may be the first response."""
        if self.author.role is None:
            raise RuntimeError("the system writes no comments")
        comment_id = await insert_comment(
            self.uow.session,
            request_id=self.before.id,
            body=body,
            visibility=visibility.value,
            author_subject=self.author.subject,
            author_name=self.author.name,
            author_role=self.author.role.value,
            now=self.now,
        )
        self.comment_ids.append(comment_id)
        self.uow.audit(
            "COMMENT",
            "Comment",
            comment_id,
            None,
            {"requestId": self.before.id, "visibility": visibility.value, "body": body},
        )
        self.event(RequestEventKind.COMMENTED, comment_id=comment_id)
        actor = self.author.actor
        effect = comment_effect(status=RequestStatus(self.current.status), actor=actor, visibility=visibility)
        if effect.first_response and self.current.first_responded_at is None:
            self.set(first_responded_at=self.now)
        return comment_id

    async def save(self) -> RequestRow:
        """Write the values (version + 1, updated_at, next SLA check), the audit entry and the events."""
        self.set(
            next_sla_check_at=next_sla_check(
                self.current, self.policy.policy, auto_close_after=self.auto_close_after
            )
        )
        written = await update_request(
            self.uow.session, request_id=self.before.id, values=self.values, now=self.now
        )
        before, after = changed(self.before, written)
        for name, value in self.values.items():
            if name not in after and name not in ("next_sla_check_at",) and not hasattr(self.before, name):
                after[name] = value  # status timestamps RequestRow does not carry
        self.uow.audit(self.action, "ServiceRequest", written.id, before, after)
        for fields in self._events:
            self.uow.event(
                request_id=written.id, customer_id=written.customer_id, team_id=written.team_id, **fields
            )
        return written
