"""A request's timeline: its comments and events, oldest first, INTERNAL content only for staff."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from db.queries.timeline import (
    COMMENT_ORDER,
    EVENT_ORDER,
    count_comments_by_request,
    count_events_by_request,
    fetch_comment_pages,
    fetch_event_pages,
)
from records.events import EventRow
from records.rows import CommentRow
from resolvers.connections import ChildListing, paginate
from resolvers.loaders import primer
from schema.pagination import Connection, PageArgs
from schema.types.timeline import Comment, RequestEvent

if TYPE_CHECKING:
    from resolvers.context import Context

__all__ = ["comment_connection", "event_connection"]


async def comment_connection(ctx: Context, args: PageArgs, *, request_id: int) -> Connection[Comment]:
    """A request's comments, oldest first; INTERNAL ones only for callers who may read them.

    One batch for every request of the operation asking the same page (a page of requests).
    """
    internal = ctx.sees_internal_comments()
    listing: ChildListing[CommentRow] = ChildListing(
        key=("ServiceRequest.comments", internal),
        parent_id=request_id,
        fetch=partial(fetch_comment_pages, internal=internal),
        count=partial(count_comments_by_request, internal=internal),
    )
    return await paginate(
        ctx, COMMENT_ORDER, args, listing, Comment.from_row, prime=primer(ctx.loaders.comment)
    )


async def event_connection(ctx: Context, args: PageArgs, *, request_id: int) -> Connection[RequestEvent]:
    """A request's events, oldest first, without events about comments the caller may not see."""
    internal = ctx.sees_internal_comments()
    listing: ChildListing[EventRow] = ChildListing(
        key=("ServiceRequest.events", internal),
        parent_id=request_id,
        fetch=partial(fetch_event_pages, internal=internal),
        count=partial(count_events_by_request, internal=internal),
    )
    return await paginate(ctx, EVENT_ORDER, args, listing, RequestEvent.from_row)
