"""Whether one stream event exists for a caller (ACCESS.md): the rule `requestEvents` applies to
every event it pushes, and the webhook sender to every delivery (WEBHOOKS.md), so it lives once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from auth.permissions import Capability, can_see_comment, can_see_customer, has
from auth.principal import Principal
from domain.enums import CommentVisibility
from records.events import EventRow
from records.rows import CommentRow

__all__ = ["can_see_event"]


async def can_see_event(
    principal: Principal, row: EventRow, load_comment: Callable[[int], Awaitable[CommentRow | None]]
) -> bool:
    """Customer scope, and events about an INTERNAL comment only for callers who may read those
    (the same rule as a request's `events` connection: the whole event is left out).

    `load_comment` is asked only when the answer depends on the comment's visibility.
    """
    if not can_see_customer(principal, row.customer_id):
        return False
    if row.comment_id is not None and not has(principal, Capability.READ_INTERNAL_COMMENTS):
        comment = await load_comment(row.comment_id)
        if comment is None or not can_see_comment(principal, CommentVisibility(comment.visibility)):
            return False
    return True
