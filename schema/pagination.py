"""Relay connections over keyset pages: argument validation, PageInfo, edges, lazy totalCount."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

import strawberry

from db.queries.keyset import InvalidCursor, Ordering, Page, PageRequest
from schema.errors import BadUserInput

__all__ = ["MAX_PAGE_SIZE", "Connection", "Edge", "PageInfo", "connection", "page_request"]

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20

T = TypeVar("T")
Counter = Callable[[], Awaitable[int]]


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    counter: strawberry.Private[Counter]

    @strawberry.field
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]

    @strawberry.field
    async def total_count(self) -> int:
        # Only counted when asked for: a page alone costs one statement.
        return await self.counter()


def _size(name: str, value: int | None) -> int | None:
    if value is not None and not 1 <= value <= MAX_PAGE_SIZE:
        raise BadUserInput(f"`{name}` must be between 1 and {MAX_PAGE_SIZE}, got {value}")
    return value


def _cursor(ordering: Ordering, name: str, value: str | None) -> tuple[object, ...] | None:
    if value is None:
        return None
    try:
        return ordering.decode(value)
    except InvalidCursor as exc:
        raise BadUserInput(f"invalid `{name}` cursor: {exc}") from None


def page_request(
    ordering: Ordering,
    *,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> PageRequest:
    """Validated page arguments (first/last 1..100; cursors of this ordering); 20 by default."""
    first, last = _size("first", first), _size("last", last)
    if first is None and last is None:
        first = DEFAULT_PAGE_SIZE
    return PageRequest(
        first=first,
        after=_cursor(ordering, "after", after),
        last=last,
        before=_cursor(ordering, "before", before),
    )


def connection(ordering: Ordering, page: Page, nodes: Sequence[T], counter: Counter) -> Connection[T]:
    """The Relay connection of a fetched page and its nodes (same order as `page.rows`)."""
    edges = [Edge(cursor=ordering.encode(key), node=node) for key, node in zip(page.keys, nodes, strict=True)]
    info = PageInfo(
        has_next_page=page.has_next,
        has_previous_page=page.has_previous,
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=edges[-1].cursor if edges else None,
    )
    return Connection(edges=edges, page_info=info, counter=counter)
