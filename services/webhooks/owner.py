"""Whose eyes an endpoint sees the event stream with: its partner's (linked customers, no INTERNAL
comments), or an ADMIN's for an endpoint without an owner (WEBHOOKS.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.event_access import can_see_event
from auth.permissions import ALL_SCOPES, Scope
from auth.principal import Principal
from auth.resolve import partner_principal
from db.models import Partner
from db.tables import COMMENTS, columns
from domain.enums import Role
from records.events import EventRow
from records.rows import CommentRow

__all__ = ["event_comments", "event_visible", "owner_principal"]

# Endpoints act for their owner with no token: nothing expires.
_NEVER = datetime(9999, 1, 1, tzinfo=UTC)


async def owner_principal(session: AsyncSession, *, owner_partner_id: int | None) -> Principal | None:
    """The owner as a principal reading requests; None for an inactive or deleted partner."""
    if owner_partner_id is None:
        return Principal(
            subject="webhooks", roles=frozenset({Role.ADMIN}), scopes=ALL_SCOPES, expires_at=_NEVER
        )
    return await partner_principal(
        session,
        Partner.id == owner_partner_id,
        scopes=frozenset({Scope.REQUESTS_READ.value}),
        expires_at=_NEVER,
    )


async def event_comments(session: AsyncSession, events: Sequence[EventRow]) -> dict[int, CommentRow]:
    """The comments of these events (what `event_visible` may ask about), by id."""
    ids = sorted({e.comment_id for e in events if e.comment_id is not None})
    if not ids:
        return {}
    stmt = select(*columns(COMMENTS, CommentRow)).where(COMMENTS.c.id.in_(ids))
    return {r["id"]: CommentRow.of(r) for r in (await session.execute(stmt)).mappings()}


async def event_visible(principal: Principal, row: EventRow, comments: Mapping[int, CommentRow]) -> bool:
    """`requestEvents`' rule (auth.event_access.can_see_event) for this owner and event; its
    comment, when the rule asks for it, from `comments` (read with the page's other facts)."""

    async def load_comment(comment_id: int) -> CommentRow | None:
        return comments.get(comment_id)

    return await can_see_event(principal, row, load_comment)
