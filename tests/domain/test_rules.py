"""Rule sets: defaults parse, the migration ships the same data, malformed data is refused."""

from __future__ import annotations

import copy
import importlib.util
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from domain.approvals import required_approval
from domain.enums import ApprovalKind, ApprovalLevel, Priority, RequestType, RiskRating, Role
from domain.routing import derive_priority
from domain.rules import DEFAULT_RULES, DEFAULT_RULES_JSON, parse_rules

VERSIONS = Path(__file__).parents[2] / "db" / "migrations" / "versions"


def _migration(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"migration_{name}", VERSIONS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_migrations_insert_exactly_the_defaults() -> None:
    rules = _migration("0003_business_rules")
    assert rules.revision == "0003" and rules.down_revision == "0002"
    limits = _migration("0010_limits")
    assert {**rules.RULES, "rate_limits": limits.RATE_LIMIT_RULES} == DEFAULT_RULES_JSON


def test_defaults_are_the_lifecycle_numbers() -> None:
    rules = DEFAULT_RULES
    assert rules.approval_matrix.own_limit_usd == Decimal("1000.00")
    assert rules.lifecycle.reopen_window == timedelta(days=14)
    assert rules.lifecycle.auto_close_after == timedelta(days=7)
    assert rules.lifecycle.default_dispute_window_days == 90
    assert rules.sla.at_risk_fraction == Decimal("0.8")
    assert rules.routing.escalation_team == "Finance Escalations"
    assert set(rules.routing.team_by_type) == set(RequestType)
    assert parse_rules(DEFAULT_RULES_JSON) == rules


def test_a_row_overrides_its_rule_set_only() -> None:
    routing = copy.deepcopy(DEFAULT_RULES_JSON["routing"])
    routing["priority_thresholds_usd"][2]["min_usd"] = "500.00"
    rules = parse_rules({"routing": routing})
    choice = derive_priority(
        request_type=RequestType.BILLING_DISPUTE,
        impact_usd=Decimal("600"),
        tier=None,
        risk=RiskRating.LOW,
        rules=rules.routing,
    )
    assert choice.priority is Priority.MEDIUM
    assert rules.approval_matrix == DEFAULT_RULES.approval_matrix
    matrix = copy.deepcopy(DEFAULT_RULES_JSON["approval_matrix"])
    matrix["rows"][-1]["level"] = "FINANCE_MANAGER"
    custom = parse_rules({"approval_matrix": matrix}).approval_matrix
    requirement = required_approval(
        kind=ApprovalKind.ACCOUNT_CHANGE,
        amount_usd=None,
        customer_risk=RiskRating.LOW,
        dscr=None,
        rules=custom,
    )
    assert requirement.level is ApprovalLevel.FINANCE_MANAGER


def _broken(name: str, change: Any) -> dict[str, Any]:
    data = copy.deepcopy(DEFAULT_RULES_JSON[name])
    change(data)
    return {name: data}


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ({"nonsense": {}}, "unknown business rule set"),
        ({"lifecycle": []}, "lifecycle: expected an object"),
        (_broken("lifecycle", lambda d: d.pop("auto_close_days")), "lifecycle.auto_close_days: missing"),
        (_broken("lifecycle", lambda d: d.update(reopen_window_days="14")), "reopen_window_days"),
        (_broken("sla", lambda d: d.update(at_risk_fraction="1.5")), "at_risk_fraction"),
        (_broken("sla", lambda d: d.update(at_risk_fraction=0.8)), "at_risk_fraction"),
        (_broken("approval_matrix", lambda d: d["rows"][0].update(level="BOSS")), "rows[0].level"),
        (_broken("approval_matrix", lambda d: d["rows"][1].update(approvals=0)), "rows[1]"),
        (_broken("approval_matrix", lambda d: d["rows"].pop()), "ACCOUNT_CHANGE"),
        (_broken("approval_matrix", lambda d: d["rows"][1].update(max_usd="100")), "ascending"),
        (_broken("approval_matrix", lambda d: d.update(own_limit_usd="lots")), "own_limit_usd"),
        (_broken("routing", lambda d: d["team_by_type"].pop("BILLING_DISPUTE")), "BILLING_DISPUTE"),
        (_broken("routing", lambda d: d["priority_thresholds_usd"].reverse()), "ordered"),
        (_broken("routing", lambda d: d.update(escalation_team="")), "escalation_team"),
        (_broken("risk", lambda d: d["dscr_bands"][0].update(rating="FINE")), "dscr_bands[0]"),
        ({"rate_limits": {"points_per_minute_by_role": {"BOSS": 10}}}, "points_per_minute_by_role key"),
        ({"rate_limits": {"points_per_minute_by_role": {"PARTNER": 0}}}, "PARTNER: expected an integer"),
    ],
)
def test_malformed_rules_are_refused_with_a_clear_message(rows: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_rules(rows)


def test_rate_limit_overrides_pick_the_largest_role_budget() -> None:
    rules = parse_rules({"rate_limits": {"points_per_minute_by_role": {"PARTNER": 5000, "AGENT": 300_000}}})
    budgets = rules.rate_limits
    assert budgets.points_per_minute(frozenset({Role.PARTNER}), 100_000) == 5000
    assert budgets.points_per_minute(frozenset({Role.AGENT}), 100_000) == 300_000
    assert budgets.points_per_minute(frozenset({Role.CUSTOMER}), 100_000) == 100_000
    assert DEFAULT_RULES.rate_limits.points_per_minute(frozenset({Role.ADMIN}), 7) == 7
