"""The one way a list becomes a Relay connection: validate the page arguments, fetch one keyset
page (and count lazily), prime the loaders, build the nodes.

A `Listing` is a list read on its own (`customers`, `serviceRequests`); a
`ChildListing` is the same page of a list under a parent (a customer's
invoices, a request's comments), fetched for every parent of the operation
that asks for it in one batch (`Loaders.keyed`). Either way `paginate`
answers the connection; only the SQL (db.queries) differs per list.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from db.queries.keyset import InvalidCursor, Ordering, Page, PageRequest
from schema.errors import BadUserInput
from schema.pagination import Connection, Edge, PageArgs, PageInfo, Prefetch

if TYPE_CHECKING:
    from resolvers.context import Context

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "ChildListing", "Listing", "paginate"]

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20

R = TypeVar("R")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Listing(Generic[R]):
    """A list read on its own: `fetch(conn, page=...)` one page, `count(conn)` the whole list."""

    fetch: Callable[..., Awaitable[tuple[Page, Sequence[R]]]]
    count: Callable[[AsyncConnection], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class ChildListing(Generic[R]):
    """The list under one parent: `fetch(conn, parents, page=...)` / `count(conn, parents)` answer
    for many parents at once; `key` names the list and its arguments (parents asking the same
    share one batch)."""

    key: Hashable
    parent_id: int
    fetch: Callable[..., Awaitable[Mapping[int, tuple[Page, Sequence[R]]]]]
    count: Callable[[AsyncConnection, list[int]], Awaitable[Mapping[int, int]]]


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


def page_request(ordering: Ordering, args: PageArgs) -> PageRequest:
    """Validated page arguments (first/last 1..100; cursors of this ordering); 20 by default."""
    first, last = _size("first", args.first), _size("last", args.last)
    if first is None and last is None:
        first = DEFAULT_PAGE_SIZE
    return PageRequest(
        first=first,
        after=_cursor(ordering, "after", args.after),
        last=last,
        before=_cursor(ordering, "before", args.before),
    )


async def paginate(
    ctx: Context,
    ordering: Ordering,
    args: PageArgs,
    listing: Listing[R] | ChildListing[R],
    node: Callable[[R], T],
    *,
    prime: Callable[[Sequence[R]], None] | None = None,
    prefetch: Callable[[Sequence[R]], Prefetch] | None = None,
) -> Connection[T]:
    """The connection of one page of `listing` in `ordering`; `node` builds each node from its row.

    `prime` caches the rows in the operation's loaders; `prefetch` (see schema.pagination) loads
    the relations the query selects on the nodes. totalCount is counted only when asked for.
    """
    page = page_request(ordering, args)
    loaders = ctx.loaders
    total: Callable[[], Awaitable[int]]
    if isinstance(listing, ChildListing):
        child = listing
        pages = loaders.keyed(
            (child.key, ordering.name, page), lambda conn, parents: child.fetch(conn, parents, page=page)
        )
        counts = loaders.keyed((child.key, "count"), child.count)
        result, rows = await pages.load(child.parent_id)

        async def total() -> int:
            return await counts.load(child.parent_id)

    else:
        # The operation's read connection: the count then shares it with the nodes' batches.
        async with loaders.connection() as conn:
            result, rows = await listing.fetch(conn, page=page)
        count = listing.count

        async def total() -> int:
            async with loaders.connection() as conn:
                return await count(conn)

    if prime is not None:
        prime(rows)
    edges = [
        Edge(cursor=ordering.encode(key), node=node(row)) for key, row in zip(result.keys, rows, strict=True)
    ]
    info = PageInfo(
        has_next_page=result.has_next,
        has_previous_page=result.has_previous,
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=edges[-1].cursor if edges else None,
    )
    return Connection(
        page_info=info,
        counter=total,
        page_edges=edges,
        prefetch=None if prefetch is None else prefetch(rows),
    )
