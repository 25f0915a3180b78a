"""Checks of a parsed import file against itself and the database, before anything is written.

References resolve to a record of the same file or one already stored;
a payment names an invoice of its own customer and currency; and the
invoices the import touches (named in the file, or gaining or losing a
payment of the file) get their new `outstanding` computed here, so that a
file that would make one negative is refused before any write.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from domain.enums import AdjustmentKind, PaymentStatus
from importer.parsing import ImportRejected, Item, ParsedFile, money_text

__all__ = ["InvoiceFacts", "check_references", "plan_outstanding"]


@dataclass(frozen=True)
class InvoiceFacts:
    """What a payment or the outstanding computation needs to know of an invoice."""

    customer: str
    currency: str
    amount: Decimal


@dataclass(frozen=True)
class _PaymentFacts:
    invoice: str | None
    customer: str
    amount: Decimal
    currency: str
    status: str
    item: Item | None  # the file's record, None for a stored payment the file does not name


async def _rows(session: AsyncSession, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in (await session.execute(text(sql), params)).all()]


async def _check_names(
    session: AsyncSession,
    *,
    in_file: Iterable[Any],
    table: str,
    column: str,
    uses: list[tuple[Item, str, list[str]]],
    what: str,
) -> None:
    """Every name in `uses` is in the file or in `table.column`; else the using record is refused."""
    file_keys = set(in_file)
    wanted = sorted({name for _, _, names in uses for name in names} - file_keys)
    stored: set[str] = set()
    if wanted:
        sql = f"SELECT {column} FROM {table} WHERE {column} = ANY(:names)"
        stored = {row[0] for row in await _rows(session, sql, names=wanted)}
    for item, field_name, names in uses:
        for name in names:
            if name not in file_keys and name not in stored:
                item.fail(field_name, f'{what} "{name}" is neither in this file nor in the database')


async def _stored_invoices(session: AsyncSession, numbers: Iterable[str]) -> dict[str, InvoiceFacts]:
    numbers = sorted(set(numbers))
    if not numbers:
        return {}
    rows = await _rows(
        session,
        "SELECT i.number, c.external_ref, i.currency, i.amount FROM invoices i "
        "JOIN customers c ON c.id = i.customer_id WHERE i.number = ANY(:numbers)",
        numbers=numbers,
    )
    return {r[0]: InvoiceFacts(customer=r[1], currency=r[2], amount=r[3]) for r in rows}


def _file_invoices(parsed: ParsedFile) -> dict[str, InvoiceFacts]:
    return {
        item.key: InvoiceFacts(item.refs["customer"], item.row["currency"], item.row["amount"])
        for item in parsed["invoices"]
    }


async def check_references(session: AsyncSession, parsed: ParsedFile) -> None:
    """Refuse the file when a reference is dangling or a payment does not match its invoice."""
    calendar_uses = [
        (item, "calendar", [item.refs["calendar"]])
        for item in [*parsed["teams"], *parsed["slaPolicies"]]
        if item.refs["calendar"] is not None
    ]
    await _check_names(
        session,
        in_file=(i.key for i in parsed["calendars"]),
        table="business_calendars",
        column="name",
        uses=calendar_uses,
        what="calendar",
    )
    await _check_names(
        session,
        in_file=(i.key for i in parsed["teams"]),
        table="teams",
        column="name",
        uses=[(item, "teams", item.refs["teams"]) for item in parsed["staff"]]
        + [(item, "team", [item.refs["team"]]) for item in parsed["mailboxes"] if item.refs["team"]],
        what="team",
    )
    customer_uses = [
        (item, "customer", [item.refs["customer"]])
        for section in ("contracts", "invoices", "payments", "financialStatements", "contacts")
        for item in parsed[section]
    ]
    customer_uses += [(item, "customers", item.refs["customers"]) for item in parsed["partners"]]
    await _check_names(
        session,
        in_file=(i.key for i in parsed["customers"]),
        table="customers",
        column="external_ref",
        uses=customer_uses,
        what="customer",
    )
    invoices = _file_invoices(parsed)
    referenced = {p.refs["invoice"] for p in parsed["payments"] if p.refs["invoice"]}
    invoices = {**await _stored_invoices(session, referenced - set(invoices)), **invoices}
    for payment in parsed["payments"]:
        number = payment.refs["invoice"]
        if number is None:
            continue
        invoice = invoices.get(number)
        if invoice is None:
            payment.fail("invoice", f'invoice "{number}" is neither in this file nor in the database')
        if invoice.customer != payment.refs["customer"]:
            payment.fail(
                "invoice",
                f'invoice "{number}" belongs to customer "{invoice.customer}", '
                f'not to "{payment.refs["customer"]}"',
            )
        if invoice.currency != payment.row["currency"]:
            payment.fail(
                "amount.currency",
                f'"{payment.row["currency"]}" differs from the currency {invoice.currency} '
                f'of invoice "{number}"',
            )


async def _payments_touching(
    session: AsyncSession, parsed: ParsedFile, file_invoices: set[str]
) -> tuple[set[str], dict[str, _PaymentFacts]]:
    """The affected invoice numbers, and every payment on them as it will be after the import."""
    file_payments = parsed["payments"]
    moved_from = await _rows(
        session,
        "SELECT i.number FROM payments p JOIN invoices i ON i.id = p.invoice_id "
        "WHERE p.reference = ANY(:refs)",
        refs=[p.key for p in file_payments],
    )
    affected = file_invoices | {p.refs["invoice"] for p in file_payments if p.refs["invoice"]}
    affected |= {row[0] for row in moved_from}
    stored = await _rows(
        session,
        "SELECT p.reference, i.number, c.external_ref, p.amount, p.currency, p.status FROM payments p "
        "JOIN invoices i ON i.id = p.invoice_id JOIN customers c ON c.id = p.customer_id "
        "WHERE i.number = ANY(:numbers)",
        numbers=sorted(affected),
    )
    payments = {r[0]: _PaymentFacts(r[1], r[2], r[3], r[4], r[5], None) for r in stored}
    for p in file_payments:
        payments[p.key] = _PaymentFacts(
            p.refs["invoice"], p.refs["customer"], p.row["amount"], p.row["currency"], p.row["status"], p
        )
    return affected, payments


async def plan_outstanding(session: AsyncSession, parsed: ParsedFile) -> dict[str, Decimal]:
    """Invoice number -> its outstanding after the import, for every invoice the import touches.

    outstanding = amount - POSTED payments - CREDIT_MEMO/WRITE_OFF adjustments + DEBIT_MEMO adjustments.
    """
    file_items = {item.key: item for item in parsed["invoices"]}
    affected, payments = await _payments_touching(session, parsed, set(file_items))
    invoices = {**await _stored_invoices(session, affected - set(file_items)), **_file_invoices(parsed)}
    outstanding = {number: invoices[number].amount for number in affected}
    blame: dict[str, Item] = {}
    for reference, payment in payments.items():
        if payment.invoice is None or payment.invoice not in affected:
            continue
        invoice = invoices[payment.invoice]
        if payment.item is None and payment.invoice in file_items:
            # A stored payment the file leaves alone must still match its (possibly changed) invoice.
            if payment.customer != invoice.customer:
                file_items[payment.invoice].fail(
                    "customer",
                    f'payment "{reference}" on this invoice belongs to customer "{payment.customer}"',
                )
            if payment.currency != invoice.currency:
                file_items[payment.invoice].fail(
                    "amount.currency", f'payment "{reference}" on this invoice is in {payment.currency}'
                )
        if payment.status == PaymentStatus.POSTED:
            outstanding[payment.invoice] -= payment.amount
            if payment.item is not None:
                blame[payment.invoice] = payment.item
    adjustments = await _rows(
        session,
        "SELECT i.number, a.kind, a.currency, sum(a.amount) FROM adjustments a "
        "JOIN invoices i ON i.id = a.invoice_id WHERE i.number = ANY(:numbers) GROUP BY 1, 2, 3",
        numbers=sorted(affected),
    )
    for number, kind, currency, total in adjustments:
        if currency != invoices[number].currency and number in file_items:
            file_items[number].fail(
                "amount.currency", f"adjustments posted on this invoice are in {currency}"
            )
        outstanding[number] += total if kind == AdjustmentKind.DEBIT_MEMO else -total
    for number, value in outstanding.items():
        if value >= 0:
            continue
        shown = money_text(value, invoices[number].currency)
        if number in blame:
            blame[number].fail(
                "amount", f'would make the outstanding amount of invoice "{number}" negative ({shown})'
            )
        if number in file_items:
            file_items[number].fail(
                "amount", f"is less than what is already paid on it (outstanding would be {shown})"
            )
        raise ImportRejected(f'invoice "{number}": the outstanding amount would become negative ({shown})')
    return outstanding
