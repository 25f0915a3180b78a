"""The email channel's lists: `inboundMails`, `outboundMails` (staff with requests:read, EMAIL.md)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING

from auth.permissions import Capability
from db.queries.mail import (
    INBOUND_ORDER,
    OUTBOUND_ORDER,
    count_inbound,
    count_outbound,
    fetch_inbound_page,
    fetch_outbound_page,
)
from domain.enums import InboundMailStatus, OutboundMailStatus
from records.mail import InboundMailRow, OutboundMailRow
from resolvers.connections import Listing, paginate
from schema.pagination import Connection, PageArgs
from schema.types.mail import InboundMail, OutboundMail

if TYPE_CHECKING:
    from resolvers.context import Context

__all__ = ["inbound_mail_connection", "outbound_mail_connection"]


async def inbound_mail_connection(
    ctx: Context, args: PageArgs, *, statuses: Sequence[InboundMailStatus] | None
) -> Connection[InboundMail]:
    """Received mail, newest first (FORBIDDEN for CUSTOMER and PARTNER callers)."""
    ctx.require(Capability.READ_MAIL)
    wanted = None if statuses is None else [s.value for s in statuses]
    listing: Listing[InboundMailRow] = Listing(
        fetch=partial(fetch_inbound_page, statuses=wanted), count=partial(count_inbound, statuses=wanted)
    )
    return await paginate(ctx, INBOUND_ORDER, args, listing, InboundMail.from_row)


async def outbound_mail_connection(
    ctx: Context,
    args: PageArgs,
    *,
    statuses: Sequence[OutboundMailStatus] | None,
    request_id: int | None,
) -> Connection[OutboundMail]:
    """Mail casegraph sends, newest first, optionally of one request."""
    ctx.require(Capability.READ_MAIL)
    wanted = None if statuses is None else [s.value for s in statuses]
    listing: Listing[OutboundMailRow] = Listing(
        fetch=partial(fetch_outbound_page, statuses=wanted, request_id=request_id),
        count=partial(count_outbound, statuses=wanted, request_id=request_id),
    )
    return await paginate(ctx, OUTBOUND_ORDER, args, listing, OutboundMail.from_row)
