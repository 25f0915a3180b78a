"""A request's comments and events, oldest first; INTERNAL ones only for callers who may read them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, exists, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from db.queries import keyset
from db.queries.keyset import KeyPart, Ordering, Page, PageRequest
from db.tables import COMMENTS, EVENTS, columns
from domain.enums import CommentVisibility
from records.events import EventRow
from records.rows import CommentRow

__all__ = [
    "COMMENT_ORDER",
    "EVENT_ORDER",
    "comment_visible",
    "count_comments_by_request",
    "count_events_by_request",
    "event_visible",
    "fetch_comment_pages",
    "fetch_event_pages",
]

COMMENT_ORDER = Ordering("Comment:ID:ASC", (KeyPart(COMMENTS.c.id, "int"),))
EVENT_ORDER = Ordering("RequestEvent:ID:ASC", (KeyPart(EVENTS.c.id, "int"),))
_INTERNAL = CommentVisibility.INTERNAL.value


def comment_visible(internal: bool) -> ColumnElement[bool]:
    """Comments that exist for the caller."""
    return true() if internal else COMMENTS.c.visibility != _INTERNAL


def event_visible(internal: bool) -> ColumnElement[bool]:
    """Events that exist for the caller: without INTERNAL comments, none about one."""
    if internal:
        return true()
    hidden = exists().where(COMMENTS.c.id == EVENTS.c.comment_id, COMMENTS.c.visibility == _INTERNAL)
    return ~hidden


async def fetch_comment_pages(
    conn: AsyncConnection, request_ids: Sequence[int], *, internal: bool, page: PageRequest
) -> dict[int, tuple[Page, list[CommentRow]]]:
    """A page of comments, oldest first, for each request (INTERNAL ones only when `internal`)."""
    base = select(*columns(COMMENTS, CommentRow)).where(comment_visible(internal))
    pages = await keyset.fetch_pages(
        conn, base, COMMENT_ORDER, page, parent=COMMENTS.c.request_id, parents=request_ids
    )
    return {pid: (found, [CommentRow.of(r) for r in found.rows]) for pid, found in pages.items()}


async def count_comments_by_request(
    conn: AsyncConnection, request_ids: Sequence[int], *, internal: bool
) -> dict[int, int]:
    """totalCount of the comments that exist for the caller, per request."""
    base = select(COMMENTS.c.id).where(comment_visible(internal))
    return await keyset.count_by(conn, base, parent=COMMENTS.c.request_id, parents=request_ids)


async def fetch_event_pages(
    conn: AsyncConnection, request_ids: Sequence[int], *, internal: bool, page: PageRequest
) -> dict[int, tuple[Page, list[EventRow]]]:
    """A page of events, oldest first, for each request, without those about hidden comments."""
    base = select(*columns(EVENTS, EventRow)).where(event_visible(internal))
    pages = await keyset.fetch_pages(
        conn, base, EVENT_ORDER, page, parent=EVENTS.c.request_id, parents=request_ids
    )
    return {pid: (found, [EventRow.of(r) for r in found.rows]) for pid, found in pages.items()}


async def count_events_by_request(
    conn: AsyncConnection, request_ids: Sequence[int], *, internal: bool
) -> dict[int, int]:
    """totalCount of the events that exist for the caller, per request."""
    base = select(EVENTS.c.id).where(event_visible(internal))
    return await keyset.count_by(conn, base, parent=EVENTS.c.request_id, parents=request_ids)
