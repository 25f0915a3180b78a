"""The customer aggregate as the write path needs it: capture facts, contract tier, effective risk."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Date, Text, any_, bindparam, cast, func, select, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ExchangeRate
from db.queries.financial_health import effective_risk_of, financial_health, latest_statement
from db.queries.lookups import current_contract_order
from db.queries.scope import CustomerScope
from db.repositories.configuration import rules_from_rows, rules_rows_columns
from db.tables import CONTRACTS, CUSTOMERS, INVOICES, PAYMENTS, columns
from domain.capture import InvoiceFacts, PaymentFacts
from domain.enums import RiskRating, SlaTier
from domain.rules import RiskRules, Rules
from records.rows import CustomerRow, InvoiceRow, PaymentRow

__all__ = [
    "CaptureContext",
    "CustomerFacts",
    "capture_context",
    "capture_facts",
    "customer_dscr",
    "customer_facts",
    "invoice_row",
    "payment_row",
]


@dataclass(frozen=True, slots=True)
class CustomerFacts:
    """What capture, priority and the SLA policy need of a customer."""

    customer: CustomerRow
    tier: SlaTier | None  # the current contract's tier (None: no contract)
    dispute_window_days: int | None  # None: no contract, the default window applies
    risk: RiskRating  # effective: the worse of the imported rating and the latest statement's


def _facts_select(scoped: bool) -> Any:
    """The customer `:customer_id` (within `:scope` when `scoped`), its current contract's tier and
    dispute window on `:today`, its latest statement."""
    k = CONTRACTS.c
    contract = (
        select(k.sla_tier, k.dispute_window_days)
        .where(k.customer_id == CUSTOMERS.c.id)
        .order_by(*current_contract_order(bindparam("today", type_=Date)))
        .limit(1)
        .lateral("k")
    )
    statement = latest_statement(CUSTOMERS.c.id)
    return (
        select(
            *columns(CUSTOMERS, CustomerRow),
            contract.c.sla_tier.label("contract_tier"),
            contract.c.dispute_window_days.label("contract_dispute_window_days"),
            *statement.c,
        )
        .select_from(CUSTOMERS.outerjoin(contract, true()).outerjoin(statement, true()))
        .where(CUSTOMERS.c.id == bindparam("customer_id", type_=BigInteger), _scope_clause(scoped))
    )


def _scope_clause(scoped: bool) -> Any:
    return CUSTOMERS.c.id == any_(bindparam("scope", type_=ARRAY(BigInteger))) if scoped else true()


def _scope_params(scope: CustomerScope) -> dict[str, Any]:
    return {} if scope is None else {"scope": sorted(scope)}


_FACTS = {scoped: _facts_select(scoped) for scoped in (False, True)}


def _facts(row: Any, rules: Rules) -> CustomerFacts:
    """CustomerFacts of a result row of `_facts_select`."""
    return CustomerFacts(
        customer=CustomerRow.of(row._mapping),
        tier=SlaTier(row.contract_tier) if row.contract_tier is not None else None,
        dispute_window_days=row.contract_dispute_window_days,
        risk=effective_risk_of(row, rules.risk),
    )


async def customer_facts(
    session: AsyncSession, *, customer_id: int, today: date, rules: Rules, scope: CustomerScope = None
) -> CustomerFacts | None:
    """The customer with its current contract and effective risk (None: no such customer among
    the `scope` customers, None meaning all); one statement."""
    params = {"customer_id": customer_id, "today": today, **_scope_params(scope)}
    found = (await session.execute(_FACTS[scope is not None], params)).first()
    return None if found is None else _facts(found, rules)


@dataclass(frozen=True, slots=True)
class CaptureContext:
    """Everything capture validation, priority and routing read before a request is created."""

    rules: Rules
    customer: CustomerFacts
    invoice: InvoiceFacts | None
    payment: PaymentFacts | None
    rates: dict[str, Decimal]  # USD per unit of each configured currency


def _capture_select(scoped: bool) -> Any:
    i, p = INVOICES.c, PAYMENTS.c
    names, texts = rules_rows_columns()
    usd = cast(ExchangeRate.usd, Text)
    rates = select(func.json_object_agg(ExchangeRate.currency, usd)).scalar_subquery()
    return (
        _facts_select(scoped)
        .add_columns(
            names.label("rule_names"),
            texts.label("rule_texts"),
            rates.label("rates"),
            i.customer_id.label("invoice_customer_id"),
            i.currency.label("invoice_currency"),
            i.outstanding.label("invoice_outstanding"),
            i.issued_on.label("invoice_issued_on"),
            p.customer_id.label("payment_customer_id"),
        )
        .outerjoin(INVOICES, i.id == bindparam("invoice_id", type_=BigInteger))
        .outerjoin(PAYMENTS, p.id == bindparam("payment_id", type_=BigInteger))
    )


_CAPTURE = {scoped: _capture_select(scoped) for scoped in (False, True)}


async def capture_context(
    session: AsyncSession,
    *,
    customer_id: int,
    invoice_id: int | None,
    payment_id: int | None,
    today: date,
    scope: CustomerScope = None,
) -> CaptureContext | None:
    """The business rules, the customer's facts, the invoice and the payment named, and the
    exchange rates, in ONE statement (None: no such customer within `scope`)."""
    params = {
        "customer_id": customer_id,
        "today": today,
        "invoice_id": invoice_id,
        "payment_id": payment_id,
        **_scope_params(scope),
    }
    stmt = _CAPTURE[scope is not None]
    found = (await session.execute(stmt, params)).first()
    if found is None:
        return None
    rules = rules_from_rows(found.rule_names, found.rule_texts)
    rates_json = json.loads(found.rates) if isinstance(found.rates, str) else found.rates or {}
    invoice = (
        None
        if found.invoice_customer_id is None
        else InvoiceFacts(
            found.invoice_customer_id,
            found.invoice_currency,
            found.invoice_outstanding,
            found.invoice_issued_on,
        )
    )
    payment = None if found.payment_customer_id is None else PaymentFacts(found.payment_customer_id)
    return CaptureContext(
        rules=rules,
        customer=_facts(found, rules),
        invoice=invoice,
        payment=payment,
        rates={currency: Decimal(usd) for currency, usd in rates_json.items()},
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
