"""The approval matrix at its boundaries, segregation of duties, outcomes and posting cover."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.approvals import (
    ApprovalFacts,
    Approver,
    ConsumableApproval,
    DecisionFacts,
    Requirement,
    approval_kind_for_adjustment,
    approval_request_errors,
    check_decision,
    needs_approval_for_posting,
    outcome,
    posting_approval_errors,
    remaining,
    required_approval,
    staff_own_limit_usd,
)
from domain.enums import (
    AdjustmentKind,
    ApprovalKind,
    ApprovalLevel,
    ApprovalStatus,
    Decision,
    KycStatus,
    RiskRating,
    Role,
)
from domain.errors import DomainError, UserErrorCode
from domain.money import Money

K = ApprovalKind
L = ApprovalLevel


def need(
    kind: ApprovalKind, amount: str | None, risk: RiskRating = RiskRating.LOW, dscr: str | None = None
) -> Requirement:
    return required_approval(
        kind=kind,
        amount_usd=None if amount is None else Decimal(amount),
        customer_risk=risk,
        dscr=None if dscr is None else Decimal(dscr),
    )


@pytest.mark.parametrize("kind", [K.INVOICE_ADJUSTMENT, K.PAYMENT_REALLOCATION])
@pytest.mark.parametrize(
    ("amount", "level", "approvals"),
    [
        ("0.01", None, 0),
        ("1000", None, 0),
        ("1000.01", L.SUPERVISOR, 1),
        ("10000", L.SUPERVISOR, 1),
        ("10000.01", L.FINANCE_MANAGER, 1),
        ("50000", L.FINANCE_MANAGER, 1),
        ("50000.01", L.CONTROLLER, 2),
    ],
)
def test_adjustment_bands(
    kind: ApprovalKind, amount: str, level: ApprovalLevel | None, approvals: int
) -> None:
    assert need(kind, amount) == Requirement(level, approvals)


@pytest.mark.parametrize(
    ("kind", "amount", "risk", "dscr", "expected"),
    [
        (K.WRITE_OFF, "0.01", RiskRating.LOW, None, Requirement(L.SUPERVISOR, 1)),
        (K.WRITE_OFF, "10000", RiskRating.LOW, None, Requirement(L.SUPERVISOR, 1)),
        (K.WRITE_OFF, "10000.01", RiskRating.LOW, None, Requirement(L.CONTROLLER, 1)),
        (K.WRITE_OFF, "5", RiskRating.CRITICAL, "0.5", Requirement(L.SUPERVISOR, 1)),  # risk only for credit
        (K.CREDIT_LIMIT_CHANGE, "50000", RiskRating.LOW, "2.0", Requirement(L.FINANCE_MANAGER, 1)),
        (K.CREDIT_LIMIT_CHANGE, "50000.01", RiskRating.LOW, "2.0", Requirement(L.CONTROLLER, 2)),
        (K.CREDIT_LIMIT_CHANGE, "100", RiskRating.HIGH, "2.0", Requirement(L.CONTROLLER, 2)),
        (K.CREDIT_LIMIT_CHANGE, "100", RiskRating.CRITICAL, None, Requirement(L.CONTROLLER, 2)),
        (K.CREDIT_LIMIT_CHANGE, "100", RiskRating.MEDIUM, "1.24", Requirement(L.CONTROLLER, 2)),
        (K.CREDIT_LIMIT_CHANGE, "100", RiskRating.HIGH, "1.1", Requirement(L.CONTROLLER, 2)),
        (K.CREDIT_LIMIT_CHANGE, "100", RiskRating.MEDIUM, "1.25", Requirement(L.FINANCE_MANAGER, 1)),
        (K.ACCOUNT_CHANGE, None, RiskRating.LOW, None, Requirement(L.SUPERVISOR, 1)),
    ],
)
def test_matrix_rows(
    kind: ApprovalKind, amount: str | None, risk: RiskRating, dscr: str | None, expected: Requirement
) -> None:
    assert need(kind, amount, risk, dscr) == expected


def test_money_kind_needs_an_amount_and_verified_kyc() -> None:
    with pytest.raises(DomainError) as caught:
        need(K.WRITE_OFF, None)
    assert caught.value.code is UserErrorCode.VALIDATION_FAILED
    codes = {
        e.code for e in approval_request_errors(kind=K.WRITE_OFF, amount=None, kyc_status=KycStatus.PENDING)
    }
    assert codes == {UserErrorCode.VALIDATION_FAILED, UserErrorCode.KYC_NOT_VERIFIED}
    money = Money(Decimal("5.00"), "USD")
    assert approval_request_errors(kind=K.WRITE_OFF, amount=money, kyc_status=KycStatus.VERIFIED) == []
    assert approval_request_errors(kind=K.ACCOUNT_CHANGE, amount=None, kyc_status=KycStatus.REJECTED) == []


def test_requirement_record_and_limits() -> None:
    assert Requirement(None, 0).for_record() == (L.AGENT, 1)
    assert Requirement(L.CONTROLLER, 2).for_record() == (L.CONTROLLER, 2)
    assert staff_own_limit_usd() == Decimal("1000.00")
    assert not needs_approval_for_posting(kind=K.INVOICE_ADJUSTMENT, amount_usd=Decimal("1000"))
    assert needs_approval_for_posting(kind=K.INVOICE_ADJUSTMENT, amount_usd=Decimal("1000.01"))
    assert needs_approval_for_posting(kind=K.WRITE_OFF, amount_usd=Decimal("1"))
    assert approval_kind_for_adjustment(AdjustmentKind.CREDIT_MEMO) is K.INVOICE_ADJUSTMENT
    assert approval_kind_for_adjustment(AdjustmentKind.DEBIT_MEMO) is K.INVOICE_ADJUSTMENT
    assert approval_kind_for_adjustment(AdjustmentKind.WRITE_OFF) is K.WRITE_OFF


PENDING = ApprovalFacts(requested_by_id=1, required_level=L.FINANCE_MANAGER, status=ApprovalStatus.PENDING)


def decide(
    approver: Approver, *, approval: ApprovalFacts = PENDING, prior: tuple[DecisionFacts, ...] = ()
) -> UserErrorCode | None:
    try:
        check_decision(approval=approval, approver=approver, request_assignee_id=2, prior_decisions=prior)
    except DomainError as error:
        return error.code
    return None


def approver(
    staff_id: int | None = 3, level: ApprovalLevel | None = L.FINANCE_MANAGER, *roles: Role
) -> Approver:
    return Approver(roles=frozenset(roles or {Role.FINANCE}), staff_id=staff_id, approval_level=level)


def test_segregation_of_duties_and_level() -> None:
    sod, limit = UserErrorCode.SEGREGATION_OF_DUTIES, UserErrorCode.APPROVAL_LIMIT_EXCEEDED
    assert decide(approver()) is None
    assert decide(approver(level=L.CONTROLLER)) is None
    assert decide(approver(1)) is sod  # requested it
    assert decide(approver(2)) is sod  # assignee of the request
    assert decide(approver(3), prior=(DecisionFacts(3, Decision.APPROVE),)) is sod
    assert decide(approver(4), prior=(DecisionFacts(3, Decision.APPROVE),)) is None
    assert decide(approver(3, L.CONTROLLER, Role.AUDITOR)) is sod
    assert decide(approver(None, None, Role.CUSTOMER)) is sod
    assert decide(approver(None, None, Role.PARTNER)) is sod
    assert decide(approver(level=L.SUPERVISOR)) is limit
    assert decide(approver(level=None)) is limit
    # SoD is reported before the level.
    assert decide(approver(1, L.AGENT)) is sod
    decided = ApprovalFacts(1, L.SUPERVISOR, ApprovalStatus.APPROVED)
    assert decide(approver(), approval=decided) is UserErrorCode.INVALID_TRANSITION


def test_outcome() -> None:
    approve, reject = Decision.APPROVE, Decision.REJECT
    assert outcome(decisions=[], required_approvals=1) is ApprovalStatus.PENDING
    assert outcome(decisions=[DecisionFacts(3, approve)], required_approvals=1) is ApprovalStatus.APPROVED
    assert outcome(decisions=[DecisionFacts(3, approve)], required_approvals=2) is ApprovalStatus.PENDING
    two = [DecisionFacts(3, approve), DecisionFacts(4, approve)]
    assert outcome(decisions=two, required_approvals=2) is ApprovalStatus.APPROVED
    same_person = [DecisionFacts(3, approve), DecisionFacts(3, approve)]
    assert outcome(decisions=same_person, required_approvals=2) is ApprovalStatus.PENDING
    assert (
        outcome(decisions=[*two, DecisionFacts(5, reject)], required_approvals=2) is ApprovalStatus.REJECTED
    )


def test_remaining() -> None:
    assert remaining(Decimal("100.00"), Decimal("30.00")) == Decimal("70.00")
    assert remaining(Decimal("100.00"), Decimal("120.00")) == Decimal(0)
    assert remaining(None, Decimal(0)) == Decimal(0)


def test_posting_needs_a_covering_approval() -> None:
    amount = Money(Decimal("2000.00"), "EUR")
    approved = ConsumableApproval(
        request_id=10,
        kind=K.INVOICE_ADJUSTMENT,
        status=ApprovalStatus.APPROVED,
        amount=Money(Decimal("3000.00"), "EUR"),
        consumed=Decimal("500.00"),
    )

    def codes(
        approval: ConsumableApproval | None,
        money: Money = amount,
        usd: str = "2160.00",
        kind: ApprovalKind = K.INVOICE_ADJUSTMENT,
    ) -> list[UserErrorCode]:
        errors = posting_approval_errors(
            request_id=10, kind=kind, amount=money, amount_usd=Decimal(usd), approval=approval
        )
        return [e.code for e in errors]

    required = [UserErrorCode.APPROVAL_REQUIRED]
    assert codes(approved) == []
    assert codes(None, Money(Decimal("900.00"), "EUR"), "972.00") == []  # within the own limit
    assert codes(None) == required
    assert codes(approved, Money(Decimal("2500.01"), "EUR")) == required  # only 2,500 remain
    assert codes(approved, Money(Decimal("2500.00"), "EUR")) == []
    from dataclasses import replace

    assert codes(replace(approved, status=ApprovalStatus.PENDING)) == required
    assert codes(replace(approved, request_id=11)) == required
    assert codes(replace(approved, kind=K.WRITE_OFF)) == required
    assert codes(replace(approved, amount=Money(Decimal("3000.00"), "USD"))) == required
    assert codes(None, Money(Decimal("10.00"), "EUR"), "10.80", K.WRITE_OFF) == required
