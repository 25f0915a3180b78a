"""`webhookEndpoints` and `webhookDeliveries` (WEBHOOKS.md): a partner its own, an ADMIN all."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncConnection

from auth.permissions import Capability
from db.queries import webhooks as q
from db.queries.keyset import Page, PageRequest
from domain.enums import WebhookDeliveryStatus
from records.events import EventRow
from records.webhooks import WebhookDeliveryRow
from resolvers.connections import Listing, paginate
from schema import ids
from schema.errors import NotFound
from schema.pagination import Connection, PageArgs
from schema.types.webhook import WebhookDelivery, WebhookEndpoint

_Delivered = tuple[WebhookDeliveryRow, EventRow | None]

if TYPE_CHECKING:
    from resolvers.context import Context

__all__ = ["endpoint_owner", "webhook_deliveries", "webhook_endpoint", "webhook_endpoints"]


def endpoint_owner(ctx: Context) -> int | None:
    """The partner whose endpoints the caller manages; None: an ADMIN, who manages all.
    FORBIDDEN for everyone else."""
    principal = ctx.require(Capability.MANAGE_WEBHOOKS)
    return principal.partner_id if principal.is_partner else None


async def webhook_endpoint(ctx: Context, endpoint_id: int) -> WebhookEndpoint | None:
    """The endpoint as now read, when the caller manages it."""
    owner = endpoint_owner(ctx)
    async with ctx.loaders.connection() as conn:
        view = await q.endpoint_view(conn, endpoint_id=endpoint_id, owner=owner)
    return None if view is None else WebhookEndpoint.from_row(*view)


async def webhook_endpoints(ctx: Context, args: PageArgs) -> Connection[WebhookEndpoint]:
    owner = endpoint_owner(ctx)
    listing: Listing[q.EndpointView] = Listing(
        fetch=partial(q.fetch_endpoint_page, owner=owner), count=partial(q.count_endpoints, owner=owner)
    )
    return await paginate(ctx, q.ENDPOINT_ORDER, args, listing, lambda view: WebhookEndpoint.from_row(*view))


async def webhook_deliveries(
    ctx: Context, endpoint_id: str, args: PageArgs, statuses: Sequence[WebhookDeliveryStatus] | None
) -> Connection[WebhookDelivery]:
    """One endpoint's delivery log, newest first; NOT_FOUND for an endpoint the caller does not manage."""
    pk = ids.decode_as(endpoint_id, "WebhookEndpoint")
    endpoint = None if pk is None else await webhook_endpoint(ctx, pk)
    if endpoint is None or pk is None:
        endpoint_owner(ctx)  # FORBIDDEN first for those who may not ask at all
        raise NotFound("webhook endpoint not found")
    wanted = None if statuses is None else [WebhookDeliveryStatus(s).value for s in statuses]

    async def fetch(conn: AsyncConnection, *, page: PageRequest) -> tuple[Page, list[_Delivered]]:
        result, rows = await q.fetch_delivery_page(conn, endpoint_id=pk, statuses=wanted, page=page)
        events = await q.events_by_id(conn, [r.event_id for r in rows if r.event_id is not None])
        return result, [(r, None if r.event_id is None else events.get(r.event_id)) for r in rows]

    def node(pair: _Delivered) -> WebhookDelivery:
        return WebhookDelivery.from_row(pair[0], endpoint=endpoint, event=pair[1])

    listing: Listing[_Delivered] = Listing(
        fetch=fetch, count=partial(q.count_deliveries, endpoint_id=pk, statuses=wanted)
    )
    return await paginate(ctx, q.DELIVERY_ORDER, args, listing, node)
