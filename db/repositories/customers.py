"""The customer aggregate as the write path needs it: capture facts, contract tier, effective risk."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.queries.financial_health import effective_risk_ratings, financial_health
from db.queries.lookups import current_contracts
from db.queries.scope import CustomerScope, in_scope
from db.tables import CUSTOMERS, INVOICES, PAYMENTS, columns
from domain.capture import InvoiceFacts, PaymentFacts
from domain.enums import RiskRating, SlaTier
from domain.rules import RiskRules, Rules
from records.rows import CustomerRow, InvoiceRow, PaymentRow

__all__ = ["CustomerFacts", "capture_facts", "customer_dscr", "customer_facts", "invoice_row", "payment_row"]


@dataclass(frozen=True, slots=True)
class CustomerFacts:
    """What capture, priority and the SLA policy need of a customer."""

    customer: CustomerRow
    tier: SlaTier | None  # the current contract's tier (None: no contract)
    dispute_window_days: int | None  # None: no contract, the default window applies
    risk: RiskRating  # effective: the worse of the imported rating and the latest statement's


async def customer_facts(
    session: AsyncSession, *, customer_id: int, today: date, rules: Rules, scope: CustomerScope = None
) -> CustomerFacts | None:
    """The customer with its current contract and effective risk (None: no such customer among
    the `scope` customers, None meaning all)."""
    stmt = select(*columns(CUSTOMERS, CustomerRow)).where(
        CUSTOMERS.c.id == customer_id, in_scope(CUSTOMERS.c.id, scope)
    )
    found = (await session.execute(stmt)).mappings().first()
    if found is None:
        return None
    conn = await session.connection()
    contract = (await current_contracts(conn, [customer_id], today)).get(customer_id)
    risk = (await effective_risk_ratings(conn, [customer_id], rules.risk)).get(customer_id)
    customer = CustomerRow.of(found)
    return CustomerFacts(
        customer=customer,
        tier=SlaTier(contract.sla_tier) if contract is not None else None,
        dispute_window_days=contract.dispute_window_days if contract is not None else None,
        risk=risk if risk is not None else RiskRating(customer.risk_rating),
    )


async def invoice_row(session: AsyncSession, *, invoice_id: int) -> InvoiceRow | None:
    """The invoice, if it exists (capture checks whose customer it is)."""
    stmt = select(*columns(INVOICES, InvoiceRow)).where(INVOICES.c.id == invoice_id)
    found = (await session.execute(stmt)).mappings().first()
    return InvoiceRow.of(found) if found is not None else None


async def payment_row(session: AsyncSession, *, payment_id: int) -> PaymentRow | None:
    """The payment, if it exists (capture checks whose customer it is)."""
    stmt = select(*columns(PAYMENTS, PaymentRow)).where(PAYMENTS.c.id == payment_id)
    found = (await session.execute(stmt)).mappings().first()
    return PaymentRow.of(found) if found is not None else None


async def capture_facts(
    session: AsyncSession, *, invoice_id: int | None, payment_id: int | None
) -> tuple[InvoiceFacts | None, PaymentFacts | None]:
    """What capture validation (domain.capture) needs of a request's invoice and payment."""
    invoice = None if invoice_id is None else await invoice_row(session, invoice_id=invoice_id)
    payment = None if payment_id is None else await payment_row(session, payment_id=payment_id)
    return (
        None
        if invoice is None
        else InvoiceFacts(invoice.customer_id, invoice.currency, invoice.outstanding, invoice.issued_on),
        None if payment is None else PaymentFacts(payment.customer_id),
    )


async def customer_dscr(session: AsyncSession, *, customer_id: int, rules: RiskRules) -> Decimal | None:
    """The DSCR of the customer's latest financial statement (None without one)."""
    conn = await session.connection()
    health = (await financial_health(conn, [customer_id], rules)).get(customer_id)
    return None if health is None else health.dscr
