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
from typing import Any, cast

from sqlalchemy import ColumnElement, Row, Table, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from db.models import FinancialStatement
from db.tables import CUSTOMERS
from domain import risk
from domain.enums import RiskRating
from domain.rules import DEFAULT_RULES, RiskRules
from records.insight import FinancialHealthRow

__all__ = ["effective_risk_of", "effective_risk_ratings", "financial_health", "latest_statement"]

_F = cast(Table, FinancialStatement.__table__).c


def latest_statement(customer_id: ColumnElement[Any]) -> Any:
    """The latest financial statement of the customer `customer_id` names, as a LATERAL subquery
    `s` to outer-join (its columns are null without one)."""
    return (
        select(
            _F.as_of,
            _F.net_operating_income,
            _F.total_debt_service,
            _F.current_assets,
            _F.current_liabilities,
        )
        .where(_F.customer_id == customer_id)
        .order_by(_F.as_of.desc())
        .limit(1)
        .lateral("s")
    )


def _latest(customer_ids: Sequence[int]) -> Any:
    s = latest_statement(CUSTOMERS.c.id)
    return (
        select(CUSTOMERS.c.id.label("customer_id"), CUSTOMERS.c.risk_rating, *s.c)
        .select_from(CUSTOMERS.outerjoin(s, true()))
        .where(CUSTOMERS.c.id.in_(list(customer_ids)))
    )


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
    rows = await conn.execute(_latest(customer_ids))
    return {row.customer_id: _health(row, rules) for row in rows}


async def effective_risk_ratings(
    conn: AsyncConnection, customer_ids: Sequence[int], rules: RiskRules = DEFAULT_RULES.risk
) -> dict[int, RiskRating]:
    """The rating priority, routing and approvals act on, per existing customer id.

    The worse of the customer master's imported rating and the latest statement's DSCR rating.
    """
    if not customer_ids:
        return {}
    rows = await conn.execute(_latest(customer_ids))
    return {row.customer_id: effective_risk_of(row, rules) for row in rows}


def effective_risk_of(row: Any, rules: RiskRules) -> RiskRating:
    """The effective rating of a row carrying the customer's `risk_rating` and the columns of its
    latest statement (`as_of`, ... null without one; LATEST_STATEMENT_JOIN reads them)."""
    health = _health(row, rules)
    return risk.effective_risk(RiskRating(row.risk_rating), None if health is None else health.risk_rating)
