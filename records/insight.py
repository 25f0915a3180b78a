"""Credit insight on a customer as the API shows it: payment behaviour and financial health."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from domain.enums import RiskRating

__all__ = ["FinancialHealthRow", "PaymentBehaviorRow"]


@dataclass(frozen=True, slots=True)
class PaymentBehaviorRow:
    """The contract's PaymentBehavior (snake_case): reporting.customer_insight computes it."""

    average_days_to_pay: float | None
    late_payment_ratio: float
    open_disputes: int
    disputes_last_90_days: int
    recurring_disputes: bool


@dataclass(frozen=True, slots=True)
class FinancialHealthRow:
    """The contract's FinancialHealth from the latest statement (db.queries.financial_health);
    ratios exact (the API shows them as floats)."""

    as_of: date
    dscr: Decimal
    current_ratio: Decimal | None
    risk_rating: RiskRating
