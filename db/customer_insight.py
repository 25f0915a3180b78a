"""Credit insight per customer: payment behaviour, financial health, the effective risk rating.

Every function takes a batch of customer ids (the DataLoaders call them once
per GraphQL operation) and answers with one SQL statement.

Definitions (where the contract leaves room):

- The *year*: invoices not voided, issued within the 365 days up to and
  including today (UTC date of `now`).
- An invoice's *full-payment date*: the UTC date of the latest POSTED
  payment on it, for an invoice whose outstanding is 0. An invoice settled
  by credit memos alone has none and counts neither as paid nor as late.
- averageDaysToPay: mean of (full-payment date - issued_on) in calendar
  days over the year's invoices that have one; None without any.
- latePaymentRatio: late / all invoices of the year (0 without any), where
  late = fully paid after due_on, or still outstanding with due_on before
  today.
- openDisputes: the customer's BILLING_DISPUTE requests in an open status;
  disputesLast90Days: its BILLING_DISPUTE requests created in the 90 days
  before `now` (any status); recurringDisputes: 3 or more of those.
- FinancialHealth: from the statement with the latest as_of; DSCR = net
  operating income / total debt service, current ratio = current assets /
  current liabilities (None when either is missing or liabilities are 0);
  rating from the DSCR bands. The arithmetic and the bands are domain.risk's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Row, TextClause, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from domain import risk
from domain.enums import OPEN_STATUSES, RequestType, RiskRating
from domain.rules import DEFAULT_RULES, RiskRules

__all__ = [
    "RECURRING_DISPUTES",
    "FinancialHealthRow",
    "PaymentBehaviorRow",
    "effective_risk_ratings",
    "financial_health",
    "payment_behavior",
]

# The contract: "3 or more billing disputes in the last 90 days".
RECURRING_DISPUTES = 3
_DISPUTE_LOOKBACK = timedelta(days=90)
_PAYMENT_LOOKBACK = timedelta(days=365)
_OPEN = "(" + ", ".join(f"'{s.value}'" for s in sorted(OPEN_STATUSES)) + ")"


@dataclass(frozen=True, slots=True)
class PaymentBehaviorRow:
    """The contract's PaymentBehavior (snake_case)."""

    average_days_to_pay: float | None
    late_payment_ratio: float
    open_disputes: int
    disputes_last_90_days: int
    recurring_disputes: bool


@dataclass(frozen=True, slots=True)
class FinancialHealthRow:
    """The contract's FinancialHealth; ratios exact (the API shows them as floats)."""

    as_of: date
    dscr: Decimal
    current_ratio: Decimal | None
    risk_rating: RiskRating


def _ids_param(statement: str) -> TextClause:
    return text(statement).bindparams(bindparam("ids", type_=ARRAY(BigInteger)))


_PAYMENT_BEHAVIOR = f"""
WITH paid AS (
    SELECT i.customer_id, i.issued_on, i.due_on, i.outstanding,
           (SELECT CAST(max(p.received_at) AT TIME ZONE 'UTC' AS date)
            FROM payments AS p WHERE p.invoice_id = i.id AND p.status = 'POSTED') AS last_payment_on
    FROM invoices AS i
    WHERE i.customer_id = ANY(:ids) AND NOT i.voided AND i.issued_on BETWEEN :since AND :today
),
invoiced AS (
    SELECT customer_id,
           count(*) AS invoices,
           avg(last_payment_on - issued_on) FILTER (WHERE outstanding = 0 AND last_payment_on IS NOT NULL)
               AS average_days,
           count(*) FILTER (WHERE (outstanding = 0 AND last_payment_on > due_on)
                               OR (outstanding > 0 AND due_on < :today)) AS late
    FROM paid GROUP BY customer_id
),
disputes AS (
    SELECT customer_id,
           count(*) FILTER (WHERE status IN {_OPEN}) AS open,
           count(*) FILTER (WHERE created_at >= :disputes_since AND created_at <= :now) AS recent
    FROM service_requests
    WHERE customer_id = ANY(:ids) AND type = '{RequestType.BILLING_DISPUTE.value}'
    GROUP BY customer_id
)
SELECT c.id AS customer_id,
       coalesce(invoiced.invoices, 0) AS invoices, CAST(invoiced.average_days AS float8) AS average_days,
       coalesce(invoiced.late, 0) AS late,
       coalesce(disputes.open, 0) AS open, coalesce(disputes.recent, 0) AS recent
FROM unnest(CAST(:ids AS bigint[])) AS c(id)
LEFT JOIN invoiced ON invoiced.customer_id = c.id
LEFT JOIN disputes ON disputes.customer_id = c.id
"""


async def payment_behavior(
    conn: AsyncConnection, customer_ids: Sequence[int], now: datetime
) -> dict[int, PaymentBehaviorRow]:
    """PaymentBehavior of each customer id (module docstring), one statement for the batch."""
    if not customer_ids:
        return {}
    today = now.astimezone(UTC).date()
    rows = await conn.execute(
        _ids_param(_PAYMENT_BEHAVIOR),
        {
            "ids": list(customer_ids),
            "since": today - _PAYMENT_LOOKBACK,
            "today": today,
            "disputes_since": now - _DISPUTE_LOOKBACK,
            "now": now,
        },
    )
    return {
        row.customer_id: PaymentBehaviorRow(
            average_days_to_pay=row.average_days,
            late_payment_ratio=row.late / row.invoices if row.invoices else 0.0,
            open_disputes=row.open,
            disputes_last_90_days=row.recent,
            recurring_disputes=row.recent >= RECURRING_DISPUTES,
        )
        for row in rows
    }


_LATEST_STATEMENT = """
SELECT c.id AS customer_id, c.risk_rating, s.as_of, s.net_operating_income, s.total_debt_service,
       s.current_assets, s.current_liabilities
FROM customers AS c
LEFT JOIN LATERAL (
    SELECT * FROM financial_statements AS f WHERE f.customer_id = c.id ORDER BY f.as_of DESC LIMIT 1
) AS s ON true
WHERE c.id = ANY(:ids)
"""


def _health(row: Row[Any], rules: RiskRules) -> FinancialHealthRow | None:
    if row.as_of is None:
        return None
    health = risk.financial_health(
        net_operating_income=row.net_operating_income,
        total_debt_service=row.total_debt_service,
        current_assets=row.current_assets,
        current_liabilities=row.current_liabilities,
        rules=rules,
    )
    return FinancialHealthRow(
        as_of=row.as_of, dscr=health.dscr, current_ratio=health.current_ratio, risk_rating=health.rating
    )


async def financial_health(
    conn: AsyncConnection, customer_ids: Sequence[int], rules: RiskRules = DEFAULT_RULES.risk
) -> dict[int, FinancialHealthRow | None]:
    """FinancialHealth of each existing customer id from its latest statement; None without one.

    `rules` are the configured DSCR bands (business_rules 'risk'); the shipped defaults otherwise.
    """
    if not customer_ids:
        return {}
    rows = await conn.execute(_ids_param(_LATEST_STATEMENT), {"ids": list(customer_ids)})
    return {row.customer_id: _health(row, rules) for row in rows}


async def effective_risk_ratings(
    conn: AsyncConnection, customer_ids: Sequence[int], rules: RiskRules = DEFAULT_RULES.risk
) -> dict[int, RiskRating]:
    """The rating priority, routing and approvals act on, per existing customer id.

    The worse of the customer master's imported rating and the latest statement's DSCR rating.
    """
    if not customer_ids:
        return {}
    rows = await conn.execute(_ids_param(_LATEST_STATEMENT), {"ids": list(customer_ids)})
    ratings: dict[int, RiskRating] = {}
    for row in rows:
        health = _health(row, rules)
        ratings[row.customer_id] = risk.effective_risk(
            RiskRating(row.risk_rating), None if health is None else health.risk_rating
        )
    return ratings
