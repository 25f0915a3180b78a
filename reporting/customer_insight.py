"""Credit insight per customer: payment behaviour (Customer.paymentBehavior).

Takes a batch of customer ids (the DataLoader calls it once per GraphQL
operation) and answers with one SQL statement. Financial health and the
effective risk rating come from the latest statement (db.queries.financial_health).

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
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, TextClause, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.calendar import utc_date
from domain.enums import OPEN_STATUSES, RequestType
from records.insight import PaymentBehaviorRow

__all__ = ["RECURRING_DISPUTES", "payment_behavior", "payment_behavior_params", "payment_behavior_sql"]

# The contract: "3 or more billing disputes in the last 90 days".
RECURRING_DISPUTES = 3
_DISPUTE_LOOKBACK = timedelta(days=90)
_PAYMENT_LOOKBACK = timedelta(days=365)
_OPEN = "(" + ", ".join(f"'{s.value}'" for s in sorted(OPEN_STATUSES)) + ")"


def _ids_param(statement: str) -> TextClause:
    return text(statement).bindparams(bindparam("ids", type_=ARRAY(BigInteger)))


def payment_behavior_sql(*, ids: str, since: str, today: str, disputes_since: str, now: str) -> str:
    """The statement of PaymentBehavior per customer id of `ids` (SQL text of a bigint[]), the
    other arguments SQL text of the values `payment_behavior_params` gives. The resolver path
    binds them as parameters; the read planner (planner.credit) embeds it per customer row.
    Every figure is final here, the ratio and the recurring flag included."""
    return f"""
WITH paid AS (
    SELECT i.customer_id, i.issued_on, i.due_on, i.outstanding,
           (SELECT CAST(max(p.received_at) AT TIME ZONE 'UTC' AS date)
            FROM payments AS p WHERE p.invoice_id = i.id AND p.status = 'POSTED') AS last_payment_on
    FROM invoices AS i
    WHERE i.customer_id = ANY({ids}) AND NOT i.voided AND i.issued_on BETWEEN {since} AND {today}
),
invoiced AS (
    SELECT customer_id,
           count(*) AS invoices,
           avg(last_payment_on - issued_on) FILTER (WHERE outstanding = 0 AND last_payment_on IS NOT NULL)
               AS average_days,
           count(*) FILTER (WHERE (outstanding = 0 AND last_payment_on > due_on)
                               OR (outstanding > 0 AND due_on < {today})) AS late
    FROM paid GROUP BY customer_id
),
disputes AS (
    SELECT customer_id,
           count(*) FILTER (WHERE status IN {_OPEN}) AS open,
           count(*) FILTER (WHERE created_at >= {disputes_since} AND created_at <= {now}) AS recent
    FROM service_requests
    WHERE customer_id = ANY({ids}) AND type = '{RequestType.BILLING_DISPUTE.value}'
    GROUP BY customer_id
)
SELECT c.id AS customer_id,
       CAST(invoiced.average_days AS float8) AS average_days,
       CASE WHEN invoiced.invoices > 0 THEN CAST(invoiced.late AS float8) / CAST(invoiced.invoices AS float8)
            ELSE CAST(0 AS float8) END AS late_ratio,
       coalesce(disputes.open, 0) AS open, coalesce(disputes.recent, 0) AS recent,
       coalesce(disputes.recent, 0) >= {RECURRING_DISPUTES} AS recurring
FROM unnest(CAST({ids} AS bigint[])) AS c(id)
LEFT JOIN invoiced ON invoiced.customer_id = c.id
LEFT JOIN disputes ON disputes.customer_id = c.id
"""


def payment_behavior_params(now: datetime) -> dict[str, Any]:
    """The values of the statement's arguments at the clock `now` (module docstring)."""
    today = utc_date(now)
    return {
        "since": today - _PAYMENT_LOOKBACK,
        "today": today,
        "disputes_since": now - _DISPUTE_LOOKBACK,
        "now": now,
    }


_PAYMENT_BEHAVIOR = payment_behavior_sql(
    ids=":ids", since=":since", today=":today", disputes_since=":disputes_since", now=":now"
)


async def payment_behavior(
    conn: AsyncConnection, customer_ids: Sequence[int], now: datetime
) -> dict[int, PaymentBehaviorRow]:
    """PaymentBehavior of each customer id (module docstring), one statement for the batch."""
    if not customer_ids:
        return {}
    rows = await conn.execute(
        _ids_param(_PAYMENT_BEHAVIOR), {"ids": list(customer_ids), **payment_behavior_params(now)}
    )
    return {
        row.customer_id: PaymentBehaviorRow(
            average_days_to_pay=row.average_days,
            late_payment_ratio=row.late_ratio,
            open_disputes=row.open,
            disputes_last_90_days=row.recent,
            recurring_disputes=row.recurring,
        )
        for row in rows
    }
