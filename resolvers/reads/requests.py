"""Service request reads: `serviceRequests`, `serviceRequestByNumber`, and the requests under a
customer or an invoice; a page prefetches the relations the query selects on its requests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from strawberry.dataloader import DataLoader

from auth.permissions import Capability
from db.queries.requests import (
    RequestFilter,
    count_requests,
    count_requests_by,
    fetch_request_by_number,
    fetch_request_page,
    fetch_request_pages,
    request_ordering,
)
from domain.enums import OPEN_STATUSES, RequestStatus
from domain.money import MAX_INTEGER_DIGITS
from records.rows import RequestRecord
from resolvers.connections import ChildListing, Listing, paginate
from schema import ids
from schema.enums import OrderDirection
from schema.errors import BadUserInput
from schema.inputs import ServiceRequestFilter, ServiceRequestOrder
from schema.pagination import Connection, PageArgs, Prefetch
from schema.types.request import ServiceRequest

if TYPE_CHECKING:
    from resolvers.context import Context

__all__ = ["request_filter", "service_request_by_number", "service_request_connection"]


async def service_request_by_number(ctx: Context, number: str) -> ServiceRequest | None:
    """`serviceRequestByNumber`: null when unknown or outside the caller's scope."""
    async with ctx.loaders.connection() as conn:
        record = await fetch_request_by_number(conn, number, scope=ctx.principal.customer_ids)
    if record is None:
        return None
    ctx.loaders.prime_requests([record])
    return ServiceRequest.from_row(record)


def request_filter(
    flt: ServiceRequestFilter | None, *, customer_id: int | None = None, invoice_id: int | None = None
) -> RequestFilter:
    """The database filter of a ServiceRequestFilter, narrowed to a parent customer or invoice.

    IDs of the wrong type, or contradicting the parent, match nothing (as if they did not exist).
    """
    f = flt or ServiceRequestFilter()
    possible = True
    decoded: dict[str, int | None] = {}
    for name, value, type_name in (
        ("customer_id", f.customer_id, "Customer"),
        ("team_id", f.team_id, "Team"),
        ("assignee_id", f.assignee_id, "Agent"),
        ("invoice_id", f.invoice_id, "Invoice"),
    ):
        pk, ok = ids.decode_optional_as(value, type_name)
        decoded[name] = pk
        possible = possible and ok
    for name, parent in (("customer_id", customer_id), ("invoice_id", invoice_id)):
        if parent is not None:
            if decoded[name] not in (None, parent):
                possible = False
            decoded[name] = parent
    impact = f.min_financial_impact
    if impact is not None and impact.adjusted() >= MAX_INTEGER_DIGITS:
        # Past what NUMERIC(18,2) holds: compared as such, PostgreSQL refused it (numeric field
        # overflow). The read planner leaves such a value to this path (planner.requests).
        raise BadUserInput(
            f"filter.minFinancialImpact must be between -10^{MAX_INTEGER_DIGITS} and 10^{MAX_INTEGER_DIGITS}"
        )
    return RequestFilter(
        statuses=f.status,
        types=f.type,
        priorities=f.priority,
        channels=f.channel,
        sla_states=f.sla_state,
        customer_id=decoded["customer_id"],
        team_id=decoded["team_id"],
        assignee_id=decoded["assignee_id"],
        invoice_id=decoded["invoice_id"],
        created_after=f.created_after,
        created_before=f.created_before,
        search=f.search,
        min_financial_impact=f.min_financial_impact,
        impossible=not possible,
    )


async def service_request_connection(
    ctx: Context,
    args: PageArgs,
    *,
    flt: ServiceRequestFilter | None,
    order: ServiceRequestOrder | None = None,
    customer_id: int | None = None,
    invoice_id: int | None = None,
) -> Connection[ServiceRequest]:
    """Requests within the caller's scope matching `flt`, newest first unless ordered otherwise;
    with `customer_id` or `invoice_id`, those of that parent (Customer/Invoice.serviceRequests)."""
    ordering = request_ordering(
        order.field.value if order is not None else "CREATED_AT",
        descending=order is None or order.direction is OrderDirection.DESC,
    )
    scope, now = ctx.principal.customer_ids, ctx.now()
    listing: Listing[RequestRecord] | ChildListing[RequestRecord]
    if customer_id is None and invoice_id is None:
        query = request_filter(flt)
        listing = Listing(
            fetch=partial(fetch_request_page, flt=query, scope=scope, now=now, ordering=ordering),
            count=partial(count_requests, flt=query, scope=scope, now=now),
        )
    else:
        # One batch for every parent of the operation asking the same page: the parent's own
        # condition becomes the partition.
        parent, parent_id, field = (
            ("customer", customer_id, "customer_id")
            if customer_id is not None
            else ("invoice", invoice_id, "invoice_id")
        )
        assert parent_id is not None
        query = request_filter(flt)
        own = getattr(query, field)
        # An id in the filter naming another parent matches nothing (request_filter's rule).
        query = replace(query, **{field: None}, impossible=query.impossible or own not in (None, parent_id))
        listing = ChildListing(
            key=("serviceRequests", parent, repr(query), scope),
            parent_id=parent_id,
            fetch=partial(
                fetch_request_pages, parent=parent, flt=query, scope=scope, now=now, ordering=ordering
            ),
            count=partial(count_requests_by, parent=parent, flt=query, scope=scope, now=now),
        )
    return await paginate(
        ctx,
        ordering,
        args,
        listing,
        ServiceRequest.from_row,
        prime=ctx.loaders.prime_requests,
        prefetch=partial(_relations_of, ctx),
    )


def _relations_of(ctx: Context, records: Sequence[RequestRecord]) -> Prefetch:
    """The prefetch of a page's relations (see schema.pagination.Connection).

    One `load_many` per relation the query selects on the nodes, all started together: each is
    the batch the nodes' own fields would have made, under the same conditions (a field that
    answers null or [] without loading, for lack of a capability, is not prefetched), so the
    statements are the same and only the per-field awaiting goes. The fields still apply their
    own access rules to what they find.
    """

    def prefetch(selected: frozenset[str]) -> Awaitable[object] | None:
        loaders = ctx.loaders
        rows = [record.request for record in records]
        wanted: list[tuple[DataLoader[int, Any], Iterable[int | None]]] = []
        if "customer" in selected:
            wanted.append((loaders.customer, (r.customer_id for r in rows)))
        if "invoice" in selected:
            wanted.append((loaders.invoice, (r.invoice_id for r in rows)))
        if "payment" in selected:
            wanted.append((loaders.payment, (r.payment_id for r in rows)))
        if ctx.can(Capability.READ_TEAMS):
            if "team" in selected:
                wanted.append((loaders.team, (r.team_id for r in rows)))
            if "assignee" in selected:
                wanted.append((loaders.staff, (r.assignee_id for r in rows)))
        if "approvals" in selected and ctx.can(Capability.READ_APPROVALS):
            wanted.append((loaders.approvals_by_request, (r.id for r in rows)))
        if "availableTransitions" in selected:
            # Only open requests look at their approvals (a pending one blocks transitions).
            opened = (r.id for r in rows if RequestStatus(r.status) in OPEN_STATUSES)
            wanted.append((loaders.approvals_by_request, opened))
        if "adjustments" in selected:
            wanted.append((loaders.adjustments_by_request, (r.id for r in rows)))
        if "duplicateOf" in selected:
            wanted.append((loaders.service_request, (r.duplicate_of_id for r in rows)))
        loads = []
        for loader, keys in wanted:
            present = [key for key in dict.fromkeys(keys) if key is not None]
            if present:
                loads.append(loader.load_many(present))
        # A failed batch is not an error of the page: each node's field raises it, as before.
        return asyncio.gather(*loads, return_exceptions=True) if loads else None

    return prefetch
