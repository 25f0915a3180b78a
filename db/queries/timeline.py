"""A request's comments and events, oldest first; INTERNAL ones only for callers who may read them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from db.queries import keyset
from db.queries.keyset import KeyPart, Ordering, Page, PageRequest
from db.queries.rows import COMMENTS, EVENTS, CommentRow, EventRow, columns
from domain.enums import CommentVisibility

__all__ = [
    "COMMENT_ORDER",
    "EVENT_ORDER",
    "comment_visible",
    "count_comments",
    "count_comments_by_request",
    "count_events",
    "count_events_by_request",
    "event_visible",
    "fetch_comment_page",
    "fetch_comment_pages",
    "fetch_event_page",
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


def _comments(cols: Any, request_id: int, internal: bool) -> Select[Any]:
    return select(*cols).where(and_(COMMENTS.c.request_id == request_id, comment_visible(internal)))


def _events(cols: Any, request_id: int, internal: bool) -> Select[Any]:
    return select(*cols).where(EVENTS.c.request_id == request_id, event_visible(internal))


async def fetch_comment_page(
    conn: AsyncConnection, *, request_id: int, internal: bool, page: PageRequest
) -> tuple[Page, list[CommentRow]]:
    """A request's comments, oldest first (INTERNAL ones only when `internal`)."""
    base = _comments(columns(COMMENTS, CommentRow), request_id, internal)
    result = await keyset.fetch_page(conn, base, COMMENT_ORDER, page)
    return result, [CommentRow.of(r) for r in result.rows]


async def count_comments(conn: AsyncConnection, *, request_id: int, internal: bool) -> int:
    """totalCount of the comments that exist for the caller."""
    return await keyset.count(conn, _comments([COMMENTS.c.id], request_id, internal))


async def fetch_event_page(
    conn: AsyncConnection, *, request_id: int, internal: bool, page: PageRequest
) -> tuple[Page, list[EventRow]]:
    """A request's events, oldest first, without those about hidden comments."""
    base = _events(columns(EVENTS, EventRow), request_id, internal)
    result = await keyset.fetch_page(conn, base, EVENT_ORDER, page)
    return result, [EventRow.of(r) for r in result.rows]


async def count_events(conn: AsyncConnection, *, request_id: int, internal: bool) -> int:
    """totalCount of the events that exist for the caller."""
    return await keyset.count(conn, _events([EVENTS.c.id], request_id, internal))


async def fetch_comment_pages(
    conn: AsyncConnection, request_ids: Sequence[int], *, internal: bool, page: PageRequest
) -> dict[int, tuple[Page, list[CommentRow]]]:
    """`fetch_comment_page` of each request at once (comments over a page of requests)."""
    base = select(*columns(COMMENTS, CommentRow)).where(comment_visible(internal))
    pages = await keyset.fetch_pages(
        conn, base, COMMENT_ORDER, page, parent=COMMENTS.c.request_id, parents=request_ids
    )
    return {pid: (found, [CommentRow.of(r) for r in found.rows]) for pid, found in pages.items()}


async def count_comments_by_request(
    conn: AsyncConnection, request_ids: Sequence[int], *, internal: bool
) -> dict[int, int]:
    """`count_comments` of each request at once."""
    base = select(COMMENTS.c.id).where(comment_visible(internal))
    return await keyset.count_by(conn, base, parent=COMMENTS.c.request_id, parents=request_ids)


async def fetch_event_pages(
    conn: AsyncConnection, request_ids: Sequence[int], *, internal: bool, page: PageRequest
) -> dict[int, tuple[Page, list[EventRow]]]:
    """`fetch_event_page` of each request at once."""
    base = select(*columns(EVENTS, EventRow)).where(event_visible(internal))
    pages = await keyset.fetch_pages(
        conn, base, EVENT_ORDER, page, parent=EVENTS.c.request_id, parents=request_ids
    )
    return {pid: (found, [EventRow.of(r) for r in found.rows]) for pid, found in pages.items()}


async def count_events_by_request(
    conn: AsyncConnection, request_ids: Sequence[int], *, internal: bool
) -> dict[int, int]:
    """`count_events` of each request at once."""
    base = select(EVENTS.c.id).where(event_visible(internal))
    return await keyset.count_by(conn, base, parent=EVENTS.c.request_id, parents=request_ids)
