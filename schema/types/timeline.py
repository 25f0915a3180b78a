"""A request's timeline: Comment and RequestEvent, with INTERNAL content only for staff."""

from __future__ import annotations

from datetime import datetime
from functools import partial

import strawberry
from strawberry.types import Info

from db.queries.timeline import (
    COMMENT_ORDER,
    EVENT_ORDER,
    count_comments_by_request,
    count_events_by_request,
    fetch_comment_pages,
    fetch_event_pages,
)
from domain.enums import CommentVisibility, RequestEventKind, RequestStatus, Role
from domain.enums import CommentVisibility as DomainVisibility
from records.events import EventRow
from records.rows import CommentRow
from schema import ids
from schema.context import Context
from schema.pagination import Connection, connection, page_request
from schema.types.node import Node, load_node
from schema.types.ready import now_or_later, optional, required
from schema.types.refs import ApprovalRef, ServiceRequestRef
from schema.types.scope import Capability, can, internal_comments

__all__ = ["Comment", "RequestEvent", "comment_by_id", "comment_connection", "event_connection"]

Ctx = Info[Context, None]


@strawberry.type
class Comment(Node):
    row: strawberry.Private[CommentRow]
    body: str
    visibility: CommentVisibility
    author_name: str = strawberry.field(description="Display name of the author.")
    author_role: Role
    created_at: datetime

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
        )


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
            if row is None or (row.visibility == DomainVisibility.INTERNAL and not internal_comments(ctx)):
                return None
            return Comment.from_row(row)

        return now_or_later(ctx.loaders.comment, self.row.comment_id, build)

    @strawberry.field
    def approval(self, info: Ctx) -> ApprovalRef | None:
        from schema.types.approval import Approval

        if self.row.approval_id is None or not can(info.context, Capability.READ_APPROVALS):
            return None
        return optional(info.context.loaders.approval, self.row.approval_id, Approval.from_row)


async def comment_by_id(ctx: Context, pk: int) -> Comment | None:
    """The comment if it exists for the caller (scope and visibility, fresh read)."""
    return await load_node(ctx, "Comment", pk)  # type: ignore[no-any-return]


async def comment_connection(
    ctx: Context, *, request_id: int, first: int | None, after: str | None
) -> Connection[Comment]:
    """A request's comments, oldest first; INTERNAL ones only for callers who may read them."""
    page = page_request(COMMENT_ORDER, first=first, after=after)
    internal = internal_comments(ctx)
    # One batch for every request of the operation asking the same page (a page of requests).
    pages = ctx.loaders.keyed(
        ("ServiceRequest.comments", page, internal),
        partial(fetch_comment_pages, page=page, internal=internal),
    )
    counts = ctx.loaders.keyed(
        ("ServiceRequest.comments#count", internal), partial(count_comments_by_request, internal=internal)
    )
    result, rows = await pages.load(request_id)

    async def total() -> int:
        return await counts.load(request_id)

    for row in rows:
        ctx.loaders.comment.prime(row.id, row)
    return connection(COMMENT_ORDER, result, [Comment.from_row(r) for r in rows], total)


async def event_connection(
    ctx: Context, *, request_id: int, first: int | None, after: str | None
) -> Connection[RequestEvent]:
    """A request's events, oldest first, without events about comments the caller may not see."""
    page = page_request(EVENT_ORDER, first=first, after=after)
    internal = internal_comments(ctx)
    pages = ctx.loaders.keyed(
        ("ServiceRequest.events", page, internal), partial(fetch_event_pages, page=page, internal=internal)
    )
    counts = ctx.loaders.keyed(
        ("ServiceRequest.events#count", internal), partial(count_events_by_request, internal=internal)
    )
    result, rows = await pages.load(request_id)

    async def total() -> int:
        return await counts.load(request_id)

    return connection(EVENT_ORDER, result, [RequestEvent.from_row(r) for r in rows], total)
