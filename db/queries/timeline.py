"""A request's comments and events, oldest first; INTERNAL ones only for callers who may read them."""

from __future__ import annotations

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
    "count_events",
    "event_visible",
    "fetch_comment_page",
    "fetch_event_page",
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
