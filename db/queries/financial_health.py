"""A customer's financial health from its latest financial statement, and the effective risk rating.

FinancialHealth: from the statement with the latest as_of; DSCR = net
operating income / total debt service, current ratio = current assets /
current liabilities (None when either is missing or liabilities are 0);
rating from the DSCR bands. The arithmetic and the bands are domain.risk's.
The effective rating (the worse of the imported one and the statement's) is
what priority, routing and approvals act on; the Customer.financialHealth
loader reads the same statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, Row, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from domain import risk
from domain.enums import RiskRating
from domain.rules import DEFAULT_RULES, RiskRules
from records.insight import FinancialHealthRow

__all__ = ["effective_risk_ratings", "financial_health"]

_LATEST_STATEMENT = """
SELECT c.id AS customer_id, c.risk_rating, s.as_of, s.net_operating_income, s.total_debt_service,
       s.current_assets, s.current_liabilities
FROM customers AS c
LEFT JOIN LATERAL (
    SELECT * FROM financial_statements AS f WHERE f.customer_id = c.id ORDER BY f.as_of DESC LIMIT 1
) AS s ON true
WHERE c.id = ANY(:ids)
"""

_LATEST = text(_LATEST_STATEMENT).bindparams(bindparam("ids", type_=ARRAY(BigInteger)))


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
    rows = await conn.execute(_LATEST, {"ids": list(customer_ids)})
    return {row.customer_id: _health(row, rules) for row in rows}


async def effective_risk_ratings(
    conn: AsyncConnection, customer_ids: Sequence[int], rules: RiskRules = DEFAULT_RULES.risk
) -> dict[int, RiskRating]:
    """The rating priority, routing and approvals act on, per existing customer id.

    The worse of the customer master's imported rating and the latest statement's DSCR rating.
    """
    if not customer_ids:
        return {}
    rows = await conn.execute(_LATEST, {"ids": list(customer_ids)})
    ratings: dict[int, RiskRating] = {}
    for row in rows:
        health = _health(row, rules)
        ratings[row.customer_id] = risk.effective_risk(
            RiskRating(row.risk_rating), None if health is None else health.risk_rating
        )
    return ratings
