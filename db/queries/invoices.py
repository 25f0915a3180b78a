"""Invoices and payments: derived invoice status in SQL, pages, counts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, case, false, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from db.queries import keyset
from db.queries.keyset import KeyPart, Ordering, Page, PageRequest
from db.queries.scope import CustomerScope, in_scope
from db.tables import INVOICES, PAYMENTS, columns
from domain.enums import InvoiceStatus
from records.rows import InvoiceRow, PaymentRow

__all__ = [
    "INVOICE_ORDER",
    "PAYMENT_ORDER",
    "count_invoices",
    "count_invoices_by_customer",
    "count_payments_by_customer",
    "fetch_invoice_page",
    "fetch_invoice_pages",
    "fetch_payment_pages",
    "invoice_status_sql",
]

I = INVOICES.c  # noqa: E741 - table alias
P = PAYMENTS.c
INVOICE_ORDER = Ordering(
    "Invoice:ISSUED_ON:DESC", (KeyPart(I.issued_on, "date"), KeyPart(I.id, "int")), descending=True
)
PAYMENT_ORDER = Ordering(
    "Payment:RECEIVED_AT:DESC", (KeyPart(P.received_at, "datetime"), KeyPart(P.id, "int")), descending=True
)


def invoice_status_sql(today: date) -> ColumnElement[Any]:
    """domain.invoices.invoice_status as a SQL expression (same order of rules)."""
    return case(
        (I.voided.is_(True), literal(InvoiceStatus.VOID.value)),
        (I.outstanding <= 0, literal(InvoiceStatus.PAID.value)),
        (I.due_on < today, literal(InvoiceStatus.OVERDUE.value)),
        (I.outstanding < I.amount, literal(InvoiceStatus.PARTIALLY_PAID.value)),
        else_=literal(InvoiceStatus.OPEN.value),
    )


def _invoice_conditions(
    *,
    scope: CustomerScope,
    statuses: Sequence[str] | None,
    today: date,
    impossible: bool,
) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [in_scope(I.customer_id, scope)]
    if impossible:
        conds.append(false())
    if statuses is not None:
        conds.append(invoice_status_sql(today).in_([str(s) for s in statuses]))
    return conds


async def fetch_invoice_page(
    conn: AsyncConnection,
    *,
    scope: CustomerScope,
    page: PageRequest,
    today: date,
    statuses: Sequence[str] | None = None,
    impossible: bool = False,
) -> tuple[Page, list[InvoiceRow]]:
    """Invoices newest issued first."""
    conds = _invoice_conditions(scope=scope, statuses=statuses, today=today, impossible=impossible)
    result = await keyset.fetch_page(
        conn, select(*columns(INVOICES, InvoiceRow)).where(*conds), INVOICE_ORDER, page
    )
    return result, [InvoiceRow.of(r) for r in result.rows]


async def count_invoices(
    conn: AsyncConnection,
    *,
    scope: CustomerScope,
    today: date,
    statuses: Sequence[str] | None = None,
    impossible: bool = False,
) -> int:
    """totalCount of the same invoice filter and scope."""
    conds = _invoice_conditions(scope=scope, statuses=statuses, today=today, impossible=impossible)
    return await keyset.count(conn, select(I.id).where(*conds))


async def fetch_invoice_pages(
    conn: AsyncConnection,
    customer_ids: Sequence[int],
    *,
    scope: CustomerScope,
    page: PageRequest,
    today: date,
    statuses: Sequence[str] | None = None,
    impossible: bool = False,
) -> dict[int, tuple[Page, list[InvoiceRow]]]:
    """`fetch_invoice_page` of each customer at once (Customer.invoices over a page of customers)."""
    conds = _invoice_conditions(scope=scope, statuses=statuses, today=today, impossible=impossible)
    base = select(*columns(INVOICES, InvoiceRow)).where(*conds)
    pages = await keyset.fetch_pages(
        conn, base, INVOICE_ORDER, page, parent=I.customer_id, parents=customer_ids
    )
    return {pid: (found, [InvoiceRow.of(r) for r in found.rows]) for pid, found in pages.items()}


async def count_invoices_by_customer(
    conn: AsyncConnection,
    customer_ids: Sequence[int],
    *,
    scope: CustomerScope,
    today: date,
    statuses: Sequence[str] | None = None,
    impossible: bool = False,
) -> dict[int, int]:
    """`count_invoices` of each customer at once."""
    conds = _invoice_conditions(scope=scope, statuses=statuses, today=today, impossible=impossible)
    return await keyset.count_by(conn, select(I.id).where(*conds), parent=I.customer_id, parents=customer_ids)


async def fetch_payment_pages(
    conn: AsyncConnection, customer_ids: Sequence[int], *, scope: CustomerScope, page: PageRequest
) -> dict[int, tuple[Page, list[PaymentRow]]]:
    """A page of each customer's payments (linked to an invoice or not), newest first."""
    base = select(*columns(PAYMENTS, PaymentRow)).where(in_scope(P.customer_id, scope))
    pages = await keyset.fetch_pages(
        conn, base, PAYMENT_ORDER, page, parent=P.customer_id, parents=customer_ids
    )
    return {pid: (found, [PaymentRow.of(r) for r in found.rows]) for pid, found in pages.items()}


async def count_payments_by_customer(
    conn: AsyncConnection, customer_ids: Sequence[int], *, scope: CustomerScope
) -> dict[int, int]:
    """totalCount of each customer's payments within scope."""
    base = select(P.id).where(in_scope(P.customer_id, scope))
    return await keyset.count_by(conn, base, parent=P.customer_id, parents=customer_ids)
