"""Financial health from a customer's latest statement: DSCR, current ratio, risk rating."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from domain.enums import RiskRating
from domain.rules import DEFAULT_RULES, RiskRules

__all__ = [
    "FinancialHealth",
    "current_ratio",
    "dscr",
    "effective_risk",
    "financial_health",
    "rating_for_dscr",
    "worse",
]


@dataclass(frozen=True, slots=True)
class FinancialHealth:
    dscr: Decimal
    current_ratio: Decimal | None
    rating: RiskRating


def dscr(*, net_operating_income: Decimal, total_debt_service: Decimal) -> Decimal:
    """Debt Service Coverage Ratio = net operating income / total debt service (must be > 0)."""
    if total_debt_service <= 0:
        raise ValueError("total debt service must be positive")
    return net_operating_income / total_debt_service


def current_ratio(*, current_assets: Decimal | None, current_liabilities: Decimal | None) -> Decimal | None:
    """Current assets / current liabilities; None when either is unknown or there are no liabilities."""
    if current_assets is None or current_liabilities is None or current_liabilities == 0:
        return None
    return current_assets / current_liabilities


def rating_for_dscr(value: Decimal, rules: RiskRules = DEFAULT_RULES.risk) -> RiskRating:
    """DSCR >= 2.0 LOW, >= 1.25 MEDIUM, >= 1.0 HIGH, below CRITICAL (bands from the rules)."""
    for band in rules.dscr_bands:
        if value >= band.min_dscr:
            return band.rating
    return rules.below


def financial_health(
    *,
    net_operating_income: Decimal,
    total_debt_service: Decimal,
    current_assets: Decimal | None = None,
    current_liabilities: Decimal | None = None,
    rules: RiskRules = DEFAULT_RULES.risk,
) -> FinancialHealth:
    """The contract's FinancialHealth of one statement."""
    ratio = dscr(net_operating_income=net_operating_income, total_debt_service=total_debt_service)
    return FinancialHealth(
        dscr=ratio,
        current_ratio=current_ratio(current_assets=current_assets, current_liabilities=current_liabilities),
        rating=rating_for_dscr(ratio, rules),
    )


def worse(a: RiskRating, b: RiskRating) -> RiskRating:
    """The riskier of two ratings (e.g. the customer's rating and its statement's)."""
    return a if a.rank >= b.rank else b


def effective_risk(customer_rating: RiskRating, statement_rating: RiskRating | None) -> RiskRating:
    """The rating priority, routing and approvals act on: the customer master's rating, or the
    latest statement's DSCR rating when that is worse."""
    return customer_rating if statement_rating is None else worse(customer_rating, statement_rating)
