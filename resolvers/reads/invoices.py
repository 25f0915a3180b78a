"""Invoice and payment reads: `invoices`, and a customer's invoices and payments."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING

from db.queries.invoices import (
    INVOICE_ORDER,
    PAYMENT_ORDER,
    count_invoices,
    count_invoices_by_customer,
    count_payments_by_customer,
    fetch_invoice_page,
    fetch_invoice_pages,
    fetch_payment_pages,
)
from domain.enums import InvoiceStatus
from records.rows import InvoiceRow, PaymentRow
from resolvers.connections import ChildListing, Listing, paginate
from resolvers.loaders import primer
from schema.pagination import Connection, PageArgs
from schema.types.invoice import Invoice, Payment

if TYPE_CHECKING:
    from resolvers.context import Context

__all__ = ["invoice_connection", "payment_connection"]


async def invoice_connection(
    ctx: Context,
    args: PageArgs,
    *,
    customer_id: int | None = None,
    statuses: Sequence[InvoiceStatus] | None = None,
    impossible: bool = False,
) -> Connection[Invoice]:
    """Invoices within the caller's scope, newest issued first; `impossible`: match nothing.

    With `customer_id`, that customer's (Customer.invoices: one batch for every customer of the
    operation asking the same page).
    """
    scope, on = ctx.principal.customer_ids, ctx.today()
    wanted = None if statuses is None else tuple(str(x) for x in statuses)
    listing: Listing[InvoiceRow] | ChildListing[InvoiceRow]
    if customer_id is None:
        listing = Listing(
            fetch=partial(fetch_invoice_page, scope=scope, today=on, statuses=wanted, impossible=impossible),
            count=partial(count_invoices, scope=scope, today=on, statuses=wanted, impossible=impossible),
        )
    else:
        listing = ChildListing(
            key=("Customer.invoices", scope, on, wanted, impossible),
            parent_id=customer_id,
            fetch=partial(fetch_invoice_pages, scope=scope, today=on, statuses=wanted, impossible=impossible),
            count=partial(
                count_invoices_by_customer, scope=scope, today=on, statuses=wanted, impossible=impossible
            ),
        )
    return await paginate(
        ctx, INVOICE_ORDER, args, listing, Invoice.from_row, prime=primer(ctx.loaders.invoice)
    )


async def payment_connection(ctx: Context, args: PageArgs, *, customer_id: int) -> Connection[Payment]:
    """A customer's payments, newest first (one batch for every customer asking the same page)."""
    scope = ctx.principal.customer_ids
    listing: ChildListing[PaymentRow] = ChildListing(
        key=("Customer.payments", scope),
        parent_id=customer_id,
        fetch=partial(fetch_payment_pages, scope=scope),
        count=partial(count_payments_by_customer, scope=scope),
    )
    return await paginate(ctx, PAYMENT_ORDER, args, listing, Payment.from_row)
