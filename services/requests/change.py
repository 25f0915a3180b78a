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
from db.repositories.requests import (
    NewComment,
    changed,
    insert_comment,
    merged,
    next_sla_check,
    update_request,
    update_request_with_comment,
)
from db.uow import UnitOfWork
from domain.enums import Channel, CommentVisibility, RequestEventKind, RequestStatus
from domain.lifecycle import comment_effect
from records.rows import CommentRow, RequestRow
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
        channel: Channel = Channel.PORTAL,
    ) -> None:
        self.uow = uow
        # The configured delay (business rules `lifecycle.auto_close_days`) when the change may
        # resolve the request: the SLA engine's next check of a RESOLVED request is its auto-close.
        self.auto_close_after = auto_close_after
        self.before = row
        self.policy = policy
        self.author = author
        self.action = action
        # Where the author's comments of this change come from (EMAIL for the mail channel).
        self.channel = channel
        self.values: dict[str, Any] = {}
        self.comment_ids: list[int] = []
        self._events: list[dict[str, Any]] = []
        # A comment `save` writes with the request (`comment_at_save`): the row, the position of its
        # audit entry and its COMMENTED event, both named with the id once written.
        self._at_save: tuple[NewComment, int, dict[str, Any]] | None = None

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

    def move_to(
        self, status: RequestStatus, timestamp_field: str, *, details: dict[str, Any] | None = None
    ) -> None:
        """Enter `status` (stamping its timestamp column) and record STATUS_CHANGED."""
        self.status_change(status, timestamp_field)
        self.event(
            RequestEventKind.STATUS_CHANGED,
            from_status=self.before.status,
            to_status=status.value,
            details=details,
        )

    def status_change(self, status: RequestStatus, timestamp_field: str) -> None:
        self.set(status=status.value, **{timestamp_field: self.now})

    async def comment(self, body: str, visibility: CommentVisibility) -> int:
        """Write a comment by the author (COMMENTED event); a staff PUBLIC one may be the first response."""
        role = self.author.role
        if role is None:
            raise RuntimeError("the system writes no comments")
        comment_id = await self._write_comment(
            body, visibility.value, (self.author.subject, self.author.name, role.value)
        )
        effect = comment_effect(
            status=RequestStatus(self.current.status), actor=self.author.actor, visibility=visibility
        )
        if effect.first_response and self.current.first_responded_at is None:
            self.set(first_responded_at=self.now)
        return comment_id

    def comment_at_save(self, body: str, visibility: CommentVisibility) -> None:
        """`comment`, written by `save` in the statement that writes the request (one round trip
        less); its id is in `comment_ids` once saved. Its audit entry and COMMENTED event take
        their places in the change's order now, as `comment`'s do. One per change."""
        role = self.author.role
        if role is None:
            raise RuntimeError("the system writes no comments")
        if self._at_save is not None:
            raise RuntimeError("one comment per change is written with the request")
        new = NewComment(
            body, visibility.value, self.author.subject, self.author.name, role.value, self.channel.value
        )
        audited = {"requestId": self.before.id, "visibility": visibility.value, "body": body}
        position = self.uow.audit("COMMENT", "Comment", "", None, audited)
        self.event(RequestEventKind.COMMENTED, comment_id=None, details=None)
        self._at_save = (new, position, self._events[-1])
        effect = comment_effect(
            status=RequestStatus(self.current.status), actor=self.author.actor, visibility=visibility
        )
        if effect.first_response and self.current.first_responded_at is None:
            self.set(first_responded_at=self.now)

    async def copy_comment(self, source: CommentRow) -> int:
        """Copy another request's comment here, as its author wrote it (markDuplicate).

        Nobody wrote anew, so a copy is no first response and resumes nothing; its COMMENTED
        event and audit entry name the comment it copies.
        """
        copied = {"copiedFromCommentId": source.id, "copiedFromRequestId": source.request_id}
        author = (source.author_subject, source.author_name, source.author_role)
        return await self._write_comment(source.body, source.visibility, author, copied)

    async def _write_comment(
        self,
        body: str,
        visibility: str,
        author: tuple[str, str, str],
        provenance: dict[str, int] | None = None,
    ) -> int:
        subject, name, role = author
        comment_id = await insert_comment(
            self.uow.session,
            request_id=self.before.id,
            body=body,
            visibility=visibility,
            author_subject=subject,
            author_name=name,
            author_role=role,
            now=self.now,
            channel=self.channel.value,
        )
        self.comment_ids.append(comment_id)
        audited = {"requestId": self.before.id, "visibility": visibility, "body": body, **(provenance or {})}
        self.uow.audit("COMMENT", "Comment", comment_id, None, audited)
        self.event(RequestEventKind.COMMENTED, comment_id=comment_id, details=provenance)
        return comment_id

    async def save(self) -> RequestRow:
        """Write the values (version + 1, updated_at, next SLA check), the audit entry and the events."""
        self.set(
            next_sla_check_at=next_sla_check(
                self.current, self.policy.policy, auto_close_after=self.auto_close_after
            )
        )
        if self._at_save is None:
            written = await update_request(
                self.uow.session, request_id=self.before.id, values=self.values, now=self.now
            )
        else:
            comment, position, event = self._at_save
            written, comment_id = await update_request_with_comment(
                self.uow.session, request_id=self.before.id, values=self.values, now=self.now, comment=comment
            )
            self.comment_ids.append(comment_id)
            self.uow.name_audited_entity(position, comment_id)
            event["comment_id"] = comment_id
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
