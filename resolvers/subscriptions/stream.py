"""What every subscription shares: the process's event hub, argument parsing, per-event scoping.

The hub (server.event_hub.EventHub, started by the lifespan as
`services.event_hub`) replays stored events after a cursor and then
continues live, in (txid, id) order, with no gap and no duplicate. This
module only decides *which* of those events a subscriber may receive and
starts fresh loaders for each one, so every event is resolved like a new
query: nothing cached from an earlier event (or another operation on the
same connection) leaks into it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import TypeVar

from auth.event_access import can_see_event
from db.events import EventFilter
from records.events import Cursor, EventRow, decode_cursor
from resolvers.context import Context, EventHubPort
from schema import ids
from schema.errors import BadUserInput

__all__ = [
    "NOTHING",
    "open_stream",
    "optional_pk",
    "parse_after",
    "scoped_filter",
    "stream",
    "visible_event",
]

T = TypeVar("T")

# Matches no row, in SQL (`customer_id = ANY('{}')`) and in memory alike: an ID of another
# type, or a customer outside the caller's scope, names nothing (ACCESS.md: as if it did not exist).
NOTHING = frozenset[int]()


def _hub(ctx: Context) -> EventHubPort:
    hub = ctx.services.event_hub
    if hub is None:
        raise RuntimeError("no event hub running in this process (server.workers.start_event_hub)")
    return hub


def parse_after(after: str | None) -> Cursor | None:
    """The `after` argument as a stream position; anything we did not hand out is BAD_USER_INPUT."""
    if after is None:
        return None
    try:
        return decode_cursor(after)
    except ValueError:
        raise BadUserInput("invalid cursor") from None


def optional_pk(global_id: str | None, type_name: str) -> tuple[int | None, bool]:
    """(pk or None, whether it can match anything): garbage raises BAD_USER_INPUT."""
    return ids.decode_optional_as(global_id, type_name)


def scoped_filter(
    ctx: Context,
    *,
    kinds: frozenset[str] | None = None,
    request_id: int | None = None,
    customer_id: int | None = None,
    team_id: int | None = None,
    matches_something: bool = True,
) -> EventFilter:
    """The hub filter: what the caller asked for, narrowed to the customers they may see.

    The narrowing runs in SQL on replay and in memory live; `visible_event`
    still re-checks every event before delivery (defence in depth).
    """
    scope = ctx.principal.customer_ids
    customers: frozenset[int] | None
    if not matches_something:
        customers = NOTHING
    elif customer_id is not None:
        customers = frozenset({customer_id}) if scope is None else frozenset({customer_id}) & scope
    else:
        customers = scope
    return EventFilter(kinds=kinds, request_id=request_id, customer_ids=customers, team_id=team_id)


def open_stream(ctx: Context, *, after: Cursor | None, flt: EventFilter) -> AsyncIterator[EventRow]:
    """Register with the hub now, while the subscribe message is handled: without `after` the
    stream is live from this moment (no gap while the operation's task starts iterating)."""
    return _hub(ctx).subscribe(after=after, filter=flt)


async def visible_event(ctx: Context, row: EventRow) -> bool:
    """Whether this event exists for the caller (ACCESS.md), checked afresh for every event
    (auth.event_access, the rule webhook deliveries are checked with too)."""
    return await can_see_event(ctx.principal, row, ctx.loaders.comment.load)


async def stream(
    ctx: Context,
    rows: AsyncIterator[EventRow],
    build: Callable[[EventRow], Awaitable[T | None]],
) -> AsyncGenerator[T, None]:
    """The hub's events (`open_stream`), each built by `build` (None: not for this caller).

    Every event starts with fresh loaders (in this operation's task only). Once
    the token has expired nothing more is delivered: the view closes the
    socket (4403) at that instant, this is the belt to those braces.
    """
    expires_at = ctx.principal.expires_at
    try:
        async for row in rows:
            if ctx.now() >= expires_at:
                return
            ctx.fresh_loaders()
            item = await build(row)
            if item is not None:
                yield item
    finally:
        # Unsubscribes from the hub at once (a closed socket cancels this generator).
        aclose = getattr(rows, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()
