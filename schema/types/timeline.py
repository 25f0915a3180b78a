"""A request's timeline: Comment and RequestEvent (INTERNAL content only for staff), and SLA alerts."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from auth.permissions import Capability
from domain.enums import Channel, CommentVisibility, RequestEventKind, RequestStatus, Role, SlaTarget
from domain.enums import CommentVisibility as DomainVisibility
from records.events import EventRow
from records.rows import CommentRow
from schema import ids
from schema.context import TypeContext
from schema.types.node import Node
from schema.types.ready import now_or_later, optional, required
from schema.types.refs import ApprovalRef, AttachmentRef, ServiceRequestRef

__all__ = ["Comment", "RequestEvent", "SlaAlert"]

Ctx = Info[TypeContext, None]


@strawberry.type
class Comment(Node):
    row: strawberry.Private[CommentRow]
    body: str
    visibility: CommentVisibility
    author_name: str = strawberry.field(description="Display name of the author.")
    author_role: Role
    created_at: datetime
    channel: Channel = strawberry.field(description="Where the comment came from (EMAIL: a mailed reply).")

    @classmethod
    def from_row(cls, row: CommentRow) -> Comment:
        return cls(
            id=strawberry.ID(ids.encode("Comment", row.id)),
            row=row,
            body=row.body,
            visibility=CommentVisibility(row.visibility),
            author_name=row.author_name,
            author_role=Role(row.author_role),
            created_at=row.created_at,
            channel=Channel(row.channel),
        )

    @strawberry.field(description="Files that came with the mail this comment was made from.")
    def attachments(self, info: Ctx) -> list[AttachmentRef]:
        from schema.types.mail import Attachment

        build = lambda rows: [Attachment.from_row(r) for r in rows]  # noqa: E731
        return now_or_later(info.context.loaders.attachments_by_comment, self.row.id, build)


@strawberry.type(description="Something that happened to a request. Events are durable and ordered.")
class RequestEvent(Node):
    row: strawberry.Private[EventRow]
    cursor: str = strawberry.field(
        description="Opaque, ordered position in the event stream; pass as `after` to resume."
    )
    kind: RequestEventKind
    occurred_at: datetime
    actor_name: str = strawberry.field(
        description="Display name of who caused it; 'system' for the SLA engine and routing."
    )
    from_status: RequestStatus | None
    to_status: RequestStatus | None

    @classmethod
    def from_row(cls, row: EventRow) -> RequestEvent:
        return cls(
            id=strawberry.ID(ids.encode("RequestEvent", row.id)),
            row=row,
            cursor=row.cursor_token,
            kind=RequestEventKind(row.kind),
            occurred_at=row.occurred_at,
            actor_name=row.actor_name,
            from_status=RequestStatus(row.from_status) if row.from_status else None,
            to_status=RequestStatus(row.to_status) if row.to_status else None,
        )

    # Relation fields are synchronous when the loaders hold their rows: see schema.types.ready.

    @strawberry.field
    def service_request(self, info: Ctx) -> ServiceRequestRef:
        from schema.types.request import ServiceRequest

        return required(info.context.loaders.service_request, self.row.request_id, ServiceRequest.from_row)

    @strawberry.field(description="For COMMENTED: only PUBLIC comments reach CUSTOMER and PARTNER callers.")
    def comment(self, info: Ctx) -> Comment | None:
        if self.row.comment_id is None:
            return None
        ctx = info.context

        def build(row: CommentRow | None) -> Comment | None:
            if row is None or (
                row.visibility == DomainVisibility.INTERNAL and not ctx.sees_internal_comments()
            ):
                return None
            return Comment.from_row(row)

        return now_or_later(ctx.loaders.comment, self.row.comment_id, build)

    @strawberry.field
    def approval(self, info: Ctx) -> ApprovalRef | None:
        from schema.types.approval import Approval

        if self.row.approval_id is None or not info.context.can(Capability.READ_APPROVALS):
            return None
        return optional(info.context.loaders.approval, self.row.approval_id, Approval.from_row)


@strawberry.type
class SlaAlert:
    request_id: strawberry.Private[int]
    kind: RequestEventKind = strawberry.field(description="SLA_AT_RISK or SLA_BREACHED.")
    target: SlaTarget
    due_at: datetime = strawberry.field(description="The due time of that target.")
    occurred_at: datetime
    cursor: str

    @strawberry.field
    async def service_request(self, info: Ctx) -> ServiceRequestRef:
        from schema.types.request import ServiceRequest

        record = await info.context.loaders.service_request.load(self.request_id)
        assert record is not None  # foreign key
        return ServiceRequest.from_row(record)
