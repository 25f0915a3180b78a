"""Priority derivation, team routing and agent choice, each with its rule and reason."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from domain.enums import Priority, RequestType, RiskRating, SlaTier
from domain.routing import Candidate, derive_priority, escalate_priority, pick_agent, route_team
from tests.domain.builders import utc

T = RequestType
P = Priority


@pytest.mark.parametrize(
    ("impact", "tier", "request_type", "risk", "expected"),
    [
        (None, None, T.GENERAL_INQUIRY, RiskRating.LOW, P.LOW),
        ("999.99", SlaTier.STANDARD, T.BILLING_DISPUTE, RiskRating.LOW, P.LOW),
        ("1000", None, T.BILLING_DISPUTE, RiskRating.LOW, P.MEDIUM),
        ("9999.99", None, T.BILLING_DISPUTE, RiskRating.MEDIUM, P.MEDIUM),
        ("10000", None, T.BILLING_DISPUTE, RiskRating.LOW, P.HIGH),
        ("49999.99", None, T.BILLING_DISPUTE, RiskRating.LOW, P.HIGH),
        ("50000", None, T.BILLING_DISPUTE, RiskRating.LOW, P.URGENT),
        (None, SlaTier.ENTERPRISE, T.GENERAL_INQUIRY, RiskRating.LOW, P.MEDIUM),
        (None, SlaTier.PREMIUM, T.CREDIT_LIMIT_CHANGE, RiskRating.LOW, P.MEDIUM),
        (None, None, T.LETTER_OF_CREDIT, RiskRating.LOW, P.MEDIUM),
        (None, None, T.DEBT_RESTRUCTURING, RiskRating.HIGH, P.HIGH),
        ("20000", None, T.CREDIT_LIMIT_CHANGE, RiskRating.LOW, P.HIGH),
        (None, None, T.GENERAL_INQUIRY, RiskRating.HIGH, P.MEDIUM),
        ("10000", None, T.BILLING_DISPUTE, RiskRating.CRITICAL, P.URGENT),
        ("60000", None, T.BILLING_DISPUTE, RiskRating.CRITICAL, P.URGENT),
    ],
)
def test_derive_priority(
    impact: str | None, tier: SlaTier | None, request_type: RequestType, risk: RiskRating, expected: Priority
) -> None:
    choice = derive_priority(
        request_type=request_type,
        impact_usd=None if impact is None else Decimal(impact),
        tier=tier,
        risk=risk,
    )
    assert choice.priority is expected
    assert choice.rule and choice.reason


def test_priority_rule_names_what_fired() -> None:
    choice = derive_priority(
        request_type=T.CREDIT_LIMIT_CHANGE,
        impact_usd=Decimal("500"),
        tier=SlaTier.ENTERPRISE,
        risk=RiskRating.HIGH,
    )
    assert choice.priority is P.HIGH
    assert choice.rule == "default:LOW+tier:ENTERPRISE+risk:HIGH"
    assert "HIGH risk" in choice.reason


def test_escalate_priority() -> None:
    assert [escalate_priority(p) for p in Priority] == [P.MEDIUM, P.HIGH, P.URGENT, P.URGENT]


@pytest.mark.parametrize(
    ("request_type", "impact", "risk", "escalated", "team", "rule"),
    [
        (T.BILLING_DISPUTE, None, RiskRating.LOW, False, "Billing", "type"),
        (T.INVOICE_CORRECTION, "49999.99", RiskRating.HIGH, False, "Billing", "type"),
        (T.PAYMENT_POSTING, None, RiskRating.LOW, False, "Cash Application", "type"),
        (T.PAYMENT_INQUIRY, None, RiskRating.LOW, False, "Cash Application", "type"),
        (T.DEBT_RESTRUCTURING, None, RiskRating.LOW, False, "Credit", "type"),
        (T.ACCOUNT_UPDATE, None, RiskRating.LOW, False, "Customer Master", "type"),
        (T.CONTRACT_SERVICE, None, RiskRating.LOW, False, "Customer Service", "type"),
        (T.BILLING_DISPUTE, "50000", RiskRating.LOW, False, "Finance Escalations", "impact"),
        (T.GENERAL_INQUIRY, None, RiskRating.CRITICAL, False, "Finance Escalations", "risk"),
        (T.GENERAL_INQUIRY, None, RiskRating.LOW, True, "Finance Escalations", "escalated"),
    ],
)
def test_route_team(
    request_type: RequestType, impact: str | None, risk: RiskRating, escalated: bool, team: str, rule: str
) -> None:
    choice = route_team(
        request_type=request_type,
        impact_usd=None if impact is None else Decimal(impact),
        risk=risk,
        escalated=escalated,
    )
    assert (choice.team, choice.rule) == (team, rule)


def candidate(
    staff_id: int,
    open_workload: int,
    hours_ago: int | None,
    *,
    skills: tuple[str, ...] = ("BILLING_DISPUTE",),
    active: bool = True,
) -> Candidate:
    last = None if hours_ago is None else utc(2026, 11, 23, 12) - timedelta(hours=hours_ago)
    return Candidate(
        staff_id=staff_id, skills=skills, open_workload=open_workload, last_assigned_at=last, active=active
    )


def test_pick_agent_fewest_open_then_least_recent() -> None:
    pool = [
        candidate(1, 3, 10),
        candidate(2, 1, 1),
        candidate(3, 1, 5),
        candidate(4, 0, 1, skills=("PAYMENT_POSTING",)),
    ]
    choice = pick_agent(candidates=pool, request_type=T.BILLING_DISPUTE)
    assert choice.staff_id == 3 and choice.rule == "least-recently-assigned"
    alone = pick_agent(candidates=[candidate(1, 3, 10), candidate(2, 1, 1)], request_type=T.BILLING_DISPUTE)
    assert alone.staff_id == 2 and alone.rule == "fewest-open"


def test_pick_agent_never_assigned_first_then_lowest_id() -> None:
    assert (
        pick_agent(
            candidates=[candidate(5, 0, 1), candidate(9, 0, None)], request_type=T.BILLING_DISPUTE
        ).staff_id
        == 9
    )
    assert (
        pick_agent(
            candidates=[candidate(9, 0, None), candidate(6, 0, None)], request_type=T.BILLING_DISPUTE
        ).staff_id
        == 6
    )
    assert (
        pick_agent(
            candidates=[candidate(9, 0, 2), candidate(6, 0, 2)], request_type=T.BILLING_DISPUTE
        ).staff_id
        == 6
    )


def test_pick_agent_none_without_active_skilled_member() -> None:
    pool = [candidate(1, 0, None, active=False), candidate(2, 0, None, skills=("PAYMENT_POSTING",))]
    choice = pick_agent(candidates=pool, request_type=T.BILLING_DISPUTE)
    assert choice.staff_id is None and choice.rule == "no-skilled-agent"
    assert pick_agent(candidates=[], request_type=T.BILLING_DISPUTE).staff_id is None
