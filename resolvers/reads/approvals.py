"""Approval reads: `approvals`, optionally only those the viewer may decide now."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from auth.permissions import can_decide_level
from db.queries.approvals import APPROVAL_ORDER, ApprovalFilter, Decider, count_approvals, fetch_approval_page
from domain.enums import ApprovalLevel
from records.rows import ApprovalRow
from resolvers.connections import Listing, paginate
from resolvers.loaders import primer
from schema.inputs import ApprovalFilter as ApprovalFilterInput
from schema.pagination import Connection, PageArgs
from schema.types.approval import Approval

if TYPE_CHECKING:
    from resolvers.context import Context

__all__ = ["approval_connection", "decider_of"]


def decider_of(ctx: Context) -> Decider:
    """The levels the viewer may decide (auth.permissions.can_decide_level) and their staff id."""
    p = ctx.principal
    levels = frozenset(level.value for level in ApprovalLevel if can_decide_level(p, level))
    return Decider(staff_id=p.staff_id, levels=levels)


async def approval_connection(
    ctx: Context, args: PageArgs, flt: ApprovalFilterInput | None
) -> Connection[Approval]:
    """`approvals(...)`: newest requested first, optionally only those the viewer may decide now."""
    f = flt or ApprovalFilterInput()
    query = ApprovalFilter(statuses=f.status, decidable_by=decider_of(ctx) if f.decidable_by_viewer else None)
    scope = ctx.principal.customer_ids
    listing: Listing[ApprovalRow] = Listing(
        fetch=partial(fetch_approval_page, flt=query, scope=scope),
        count=partial(count_approvals, flt=query, scope=scope),
    )
    return await paginate(
        ctx, APPROVAL_ORDER, args, listing, Approval.from_row, prime=primer(ctx.loaders.approval)
    )
