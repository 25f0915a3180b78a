"""Credit insight on a Customer: PaymentBehavior and FinancialHealth (credit data, ACCESS.md).

`payment_behavior_of` / `financial_health_of` turn the records of
records.insight (computed by reporting.customer_insight and
db.queries.financial_health) into these types.
"""

from __future__ import annotations

from datetime import date

import strawberry

from domain.enums import RiskRating
from records.insight import FinancialHealthRow, PaymentBehaviorRow

__all__ = ["FinancialHealth", "PaymentBehavior", "financial_health_of", "payment_behavior_of"]


@strawberry.type(description="Derived from the customer's invoices, payments and requests.")
class PaymentBehavior:
    average_days_to_pay: float | None = strawberry.field(
        description="Mean days from issue to full payment over paid invoices of the last 365 days; "
        "null without any."
    )
    late_payment_ratio: float = strawberry.field(
        description="Share of invoices of the last 365 days paid after their due date (0..1)."
    )
    open_disputes: int
    disputes_last_90_days: int
    recurring_disputes: bool = strawberry.field(
        description="True when the customer opened 3 or more billing disputes in the last 90 days."
    )


@strawberry.type(description="Risk insight from the customer's latest financial statement.")
class FinancialHealth:
    as_of: date
    dscr: float = strawberry.field(
        description="Debt Service Coverage Ratio = net operating income / total debt service."
    )
    current_ratio: float | None
    risk_rating: RiskRating


def payment_behavior_of(facts: PaymentBehaviorRow) -> PaymentBehavior:
    """The GraphQL object of a customer's payment behaviour."""
    return PaymentBehavior(
        average_days_to_pay=facts.average_days_to_pay,
        late_payment_ratio=facts.late_payment_ratio,
        open_disputes=facts.open_disputes,
        disputes_last_90_days=facts.disputes_last_90_days,
        recurring_disputes=facts.recurring_disputes,
    )


def financial_health_of(facts: FinancialHealthRow) -> FinancialHealth:
    """The GraphQL object of a customer's financial health (exact ratios become floats)."""
    return FinancialHealth(
        as_of=facts.as_of,
        dscr=float(facts.dscr),
        current_ratio=None if facts.current_ratio is None else float(facts.current_ratio),
        risk_rating=facts.risk_rating,
    )
