"""A customer's credit insight as SQL: Customer.paymentBehavior and Customer.financialHealth.

Both are credit data (planner.objects wraps them: null for callers who may not see them, decided
from the access class as auth.permissions.visible_credit_fields decides). Their values come from
the definitions the resolver path runs:

- PaymentBehavior is reporting.customer_insight's statement itself, embedded per customer row with
  the clock's values as parameters (payment_behavior_params); every figure, the ratio included,
  is computed by that statement for both paths.
- FinancialHealth is domain.risk over the latest statement (db.queries.financial_health): the
  ratios as Python's decimal module divides (cg_decimal_div, migration 0018), the rating from the
  DSCR bands of the rules the resolver path applies (DEFAULT_RULES.risk), as data.

Floats are written by cg_json_float, as orjson writes the resolver path's Python floats.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import FieldNode

from domain.rules import DEFAULT_RULES, RiskRules
from planner.builder import Binding, Builder, Unplannable
from planner.objects import typename
from planner.sql import json_bool, json_date, json_int, json_object, literal
from reporting.customer_insight import payment_behavior_params, payment_behavior_sql

__all__ = ["dscr_sql", "financial_health", "json_float", "payment_behavior", "statement_health_sql"]


def json_float(expr: str) -> str:
    """A float8 (or null) as orjson writes the Python float."""
    return f"cg_json_float({expr})"


# ------------------------------------------------------------------ payment behaviour

_PARAMS = (("since", "date"), ("today", "date"), ("disputes_since", "timestamptz"), ("now", "timestamptz"))


def _param(name: str) -> Callable[[Binding], Any]:
    return lambda binding: payment_behavior_params(binding.now)[name]


def payment_behavior(b: Builder, row: str, nodes: list[FieldNode]) -> str:
    """Customer.paymentBehavior: reporting.customer_insight's statement for this customer."""
    values = {name: b.shared(f"payment_behavior_{name}", _param(name), cast) for name, cast in _PARAMS}
    statement = payment_behavior_sql(ids=f"ARRAY[{row}.id]", **values)
    pb = b.alias("pb")
    members = []
    for key, fields in b.collect("PaymentBehavior", nodes).items():
        name = fields[0].name.value
        if name == "averageDaysToPay":
            members.append((key, json_float(f"{pb}.average_days")))
        elif name == "latePaymentRatio":
            members.append((key, json_float(f"{pb}.late_ratio")))
        elif name == "openDisputes":
            members.append((key, json_int(f"{pb}.open")))
        elif name == "disputesLast90Days":
            members.append((key, json_int(f"{pb}.recent")))
        elif name == "recurringDisputes":
            members.append((key, json_bool(f"{pb}.recurring")))
        elif name == "__typename":
            members.append((key, typename("PaymentBehavior")))
        else:
            raise Unplannable("unsupported_field", f"PaymentBehavior.{name}")
    return f"coalesce((SELECT {json_object(members)} FROM ({statement}) AS {pb}), 'null')"


# ------------------------------------------------------------------ financial health


def dscr_sql(noi: str, debt_service: str) -> str:
    """domain.risk.dscr: net operating income / total debt service, as a Decimal quotient."""
    return f"cg_decimal_div({noi}, {debt_service})"


def statement_health_sql(
    dscr: str, assets: str, liabilities: str, rules: RiskRules = DEFAULT_RULES.risk
) -> tuple[str, str, str]:
    """domain.risk.financial_health of a statement as SQL, from its DSCR quotient (`dscr_sql`): the
    JSON text of the DSCR, of the current ratio (null when either is missing or liabilities are 0)
    and of the rating (rating_for_dscr: the first band whose minimum the DSCR reaches, from the
    rules as data). Debt service is positive (a constraint; domain.risk.dscr refuses less), so
    the DSCR's float is its quotient's, never -0.0."""
    ratio = (
        f"CASE WHEN {assets} IS NULL OR {liabilities} IS NULL OR {liabilities} = 0 THEN NULL "
        f"ELSE cg_decimal_ratio({assets}, {liabilities}) END"
    )
    bands = " ".join(
        f"WHEN {dscr} >= {literal(str(band.min_dscr))}::numeric THEN '\"{band.rating.value}\"'"
        for band in rules.dscr_bands
    )
    rating = f"CASE {bands} ELSE '\"{rules.below.value}\"' END"
    return json_float(f"CAST({dscr} AS float8)"), json_float(ratio), rating


def financial_health(b: Builder, row: str, nodes: list[FieldNode]) -> str:
    """Customer.financialHealth: from the customer's latest financial statement, else null. The
    resolver path's loader (db.queries.financial_health) applies the shipped DSCR bands."""
    fs = b.alias("fs")
    dscr, ratio, rating = statement_health_sql(
        f"{fs}.dscr", f"{fs}.current_assets", f"{fs}.current_liabilities"
    )
    members = []
    for key, fields in b.collect("FinancialHealth", nodes).items():
        name = fields[0].name.value
        if name == "asOf":
            members.append((key, json_date(f"{fs}.as_of")))
        elif name == "dscr":
            members.append((key, dscr))
        elif name == "currentRatio":
            members.append((key, ratio))
        elif name == "riskRating":
            members.append((key, rating))
        elif name == "__typename":
            members.append((key, typename("FinancialHealth")))
        else:
            raise Unplannable("unsupported_field", f"FinancialHealth.{name}")
    # The quotient once per statement (the rating compares it with each band).
    latest = (
        f"(SELECT s.*, {dscr_sql('s.net_operating_income', 's.total_debt_service')} AS dscr FROM "
        f"(SELECT * FROM financial_statements AS f WHERE f.customer_id = {row}.id "
        f"ORDER BY f.as_of DESC LIMIT 1) AS s) AS {fs}"
    )
    return f"coalesce((SELECT {json_object(members)} FROM {latest}), 'null')"
