"""Customer reads: `customers` (search and filters within the caller's customers, by name)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from auth.permissions import Capability
from db.queries.customers import CUSTOMER_ORDER, CustomerFilter, count_customers, fetch_customer_page
from records.rows import CustomerRow
from resolvers.connections import Listing, paginate
from resolvers.loaders import primer
from schema.inputs import CustomerFilter as CustomerFilterInput
from schema.pagination import Connection, PageArgs
from schema.types.customer import Customer

if TYPE_CHECKING:
    from resolvers.context import Context

__all__ = ["customer_connection"]


async def customer_connection(
    ctx: Context, args: PageArgs, flt: CustomerFilterInput | None
) -> Connection[Customer]:
    """`customers(...)`: search and filters within the caller's customers, by name."""
    f = flt or CustomerFilterInput()
    query = CustomerFilter(
        search=f.search,
        kyc_statuses=f.kyc_status,
        risk_ratings=f.risk_rating,
        segments=f.segment,
        # Filtering on a field the caller cannot see would reveal it: such a filter matches nothing.
        risk_visible=ctx.can(Capability.READ_CREDIT_DATA),
    )
    scope = ctx.principal.customer_ids
    listing: Listing[CustomerRow] = Listing(
        fetch=partial(fetch_customer_page, flt=query, scope=scope),
        count=partial(count_customers, flt=query, scope=scope),
    )
    return await paginate(
        ctx, CUSTOMER_ORDER, args, listing, Customer.from_row, prime=primer(ctx.loaders.customer)
    )
