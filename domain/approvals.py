"""Maker-checker approvals (LIFECYCLE.md §4): the matrix, segregation of duties, outcomes
and the approval an adjustment or payment application consumes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

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
from domain.errors import DomainError, UserErrorCode, first_error
from domain.money import Money
from domain.rules import DEFAULT_RULES, ApprovalRules

__all__ = [
    "MONEY_KINDS",
    "PAYMENT_APPLICATION_KIND",
    "ApprovalFacts",
    "Approver",
    "ConsumableApproval",
    "DecisionFacts",
    "Requirement",
    "approval_kind_for_adjustment",
    "approval_request_errors",
    "check_decision",
    "decision_errors",
    "needs_approval_for_posting",
    "outcome",
    "posting_approval_errors",
    "remaining",
    "required_approval",
    "staff_own_limit_usd",
]

# Kinds whose approval is for an amount: it is required, and the customer's KYC must be VERIFIED.
MONEY_KINDS = frozenset(
    {
        ApprovalKind.INVOICE_ADJUSTMENT,
        ApprovalKind.WRITE_OFF,
        ApprovalKind.CREDIT_LIMIT_CHANGE,
        ApprovalKind.PAYMENT_REALLOCATION,
    }
)
PAYMENT_APPLICATION_KIND = ApprovalKind.PAYMENT_REALLOCATION
_NEVER_DECIDE = frozenset({Role.CUSTOMER, Role.PARTNER, Role.AUDITOR})


@dataclass(frozen=True, slots=True)
class Requirement:
    """What the matrix asks for; level None / 0 approvals: within any staff member's own limit."""

    level: ApprovalLevel | None
    approvals: int

    @property
    def needed(self) -> bool:
        """True when an APPROVED approval is required."""
        return self.approvals > 0

    def for_record(self) -> tuple[ApprovalLevel, int]:
        """(requiredLevel, requiredApprovals) to store on an Approval someone asked for anyway:
        below the first threshold any other staff member (AGENT level) may approve it."""
        return (self.level or ApprovalLevel.AGENT, max(self.approvals, 1))


def approval_kind_for_adjustment(kind: AdjustmentKind) -> ApprovalKind:
    """Credit and debit memos are invoice adjustments; a write-off is its own kind."""
    return ApprovalKind.WRITE_OFF if kind is AdjustmentKind.WRITE_OFF else ApprovalKind.INVOICE_ADJUSTMENT


def staff_own_limit_usd(rules: ApprovalRules = DEFAULT_RULES.approval_matrix) -> Decimal:
    """The USD amount any staff member may post without an approval (1,000)."""
    return rules.own_limit_usd


def required_approval(
    *,
    kind: ApprovalKind,
    amount_usd: Decimal | None,
    customer_risk: RiskRating,
    dscr: Decimal | None,
    rules: ApprovalRules = DEFAULT_RULES.approval_matrix,
) -> Requirement:
    """The matrix row for `kind` and the USD amount (bounds inclusive), raised to the risk
    escalation (CREDIT_LIMIT_CHANGE for a HIGH/CRITICAL customer or DSCR < 1.25) when it applies.

    A money kind without an amount is a VALIDATION_FAILED (see `approval_request_errors`).
    """
    if amount_usd is None and kind in MONEY_KINDS:
        raise DomainError(UserErrorCode.VALIDATION_FAILED, f"{kind} needs an amount", ("input", "amount"))
    amount = amount_usd if amount_usd is not None else Decimal(0)
    row = next(r for r in rules.rows if r.kind is kind and (r.max_usd is None or amount <= r.max_usd))
    requirement = Requirement(row.level, row.approvals)
    escalation = rules.risk_escalation
    risky = customer_risk in escalation.risk_ratings or (dscr is not None and dscr < escalation.dscr_below)
    if kind in escalation.kinds and risky:
        requirement = _stricter(requirement, Requirement(escalation.level, escalation.approvals))
    return requirement


def _stricter(a: Requirement, b: Requirement) -> Requirement:
    rank_a = a.level.rank if a.level is not None else -1
    rank_b = b.level.rank if b.level is not None else -1
    return Requirement(a.level if rank_a >= rank_b else b.level, max(a.approvals, b.approvals))


def needs_approval_for_posting(
    *, kind: ApprovalKind, amount_usd: Decimal, rules: ApprovalRules = DEFAULT_RULES.approval_matrix
) -> bool:
    """True when posting (adjustment, payment application) needs an APPROVED approval: above the
    own limit, and any write-off. Risk does not matter here: it only shapes credit-limit approvals."""
    return required_approval(
        kind=kind, amount_usd=amount_usd, customer_risk=RiskRating.LOW, dscr=None, rules=rules
    ).needed


def approval_request_errors(
    *, kind: ApprovalKind, amount: Money | None, kyc_status: KycStatus
) -> list[DomainError]:
    """`requestApproval`'s own rules (besides the REQUEST_APPROVAL transition): money kinds need an
    amount and a VERIFIED customer."""
    errors = []
    if kind in MONEY_KINDS:
        if amount is None:
            errors.append(
                DomainError(UserErrorCode.VALIDATION_FAILED, f"{kind} needs an amount", ("input", "amount"))
            )
        if kyc_status is not KycStatus.VERIFIED:
            errors.append(
                DomainError(
                    UserErrorCode.KYC_NOT_VERIFIED,
                    f"the customer's KYC status is {kyc_status}",
                    ("input", "kind"),
                )
            )
    return errors


@dataclass(frozen=True, slots=True)
class ApprovalFacts:
    requested_by_id: int
    required_level: ApprovalLevel
    status: ApprovalStatus


@dataclass(frozen=True, slots=True)
class Approver:
    roles: frozenset[Role]
    staff_id: int | None
    approval_level: ApprovalLevel | None


@dataclass(frozen=True, slots=True)
class DecisionFacts:
    approver_id: int
    decision: Decision


def decision_errors(
    *,
    approval: ApprovalFacts,
    approver: Approver,
    request_assignee_id: int | None,
    prior_decisions: Sequence[DecisionFacts],
) -> list[DomainError]:
    """Every rule a decision breaks: a decided approval [INVALID_TRANSITION], segregation of
    duties [SEGREGATION_OF_DUTIES], the approver's level [APPROVAL_LIMIT_EXCEEDED]."""
    sod = UserErrorCode.SEGREGATION_OF_DUTIES
    errors = []
    if approval.status is not ApprovalStatus.PENDING:
        errors.append(
            DomainError(UserErrorCode.INVALID_TRANSITION, f"the approval is already {approval.status}")
        )
    if approver.staff_id is None or not (approver.roles - _NEVER_DECIDE):
        errors.append(DomainError(sod, "customers, partners and auditors never decide approvals"))
    elif approver.staff_id == approval.requested_by_id:
        errors.append(DomainError(sod, "nobody approves an approval they requested"))
    elif approver.staff_id == request_assignee_id:
        errors.append(DomainError(sod, "nobody approves an approval on a request assigned to them"))
    elif any(d.approver_id == approver.staff_id for d in prior_decisions):
        errors.append(DomainError(sod, "the approvals of one approval come from distinct people"))
    level = approver.approval_level
    if level is None or level.rank < approval.required_level.rank:
        errors.append(
            DomainError(
                UserErrorCode.APPROVAL_LIMIT_EXCEEDED, f"this approval needs level {approval.required_level}"
            )
        )
    return errors


def check_decision(
    *,
    approval: ApprovalFacts,
    approver: Approver,
    request_assignee_id: int | None,
    prior_decisions: Sequence[DecisionFacts],
) -> None:
    """Raise the first broken rule of `decision_errors` (SoD before the approver's level)."""
    error = first_error(
        decision_errors(
            approval=approval,
            approver=approver,
            request_assignee_id=request_assignee_id,
            prior_decisions=prior_decisions,
        )
    )
    if error is not None:
        raise error


def outcome(*, decisions: Sequence[DecisionFacts], required_approvals: int) -> ApprovalStatus:
    """One REJECT rejects; `required_approvals` distinct APPROVEs approve; else still PENDING."""
    if any(d.decision is Decision.REJECT for d in decisions):
        return ApprovalStatus.REJECTED
    approvers = {d.approver_id for d in decisions if d.decision is Decision.APPROVE}
    return ApprovalStatus.APPROVED if len(approvers) >= max(required_approvals, 1) else ApprovalStatus.PENDING


def remaining(amount: Decimal | None, consumed: Decimal) -> Decimal:
    """What is left of an approval's amount (an amount can be consumed only once in total)."""
    return max((amount or Decimal(0)) - consumed, Decimal(0))


@dataclass(frozen=True, slots=True)
class ConsumableApproval:
    """The approval named by `postAdjustment` / `applyPayment`."""

    request_id: int
    kind: ApprovalKind
    status: ApprovalStatus
    amount: Money | None
    consumed: Decimal


def posting_approval_errors(
    *,
    request_id: int,
    kind: ApprovalKind,
    amount: Money,
    amount_usd: Decimal,
    approval: ConsumableApproval | None,
    rules: ApprovalRules = DEFAULT_RULES.approval_matrix,
) -> list[DomainError]:
    """APPROVAL_REQUIRED when a posting above the own limit (or any write-off) is not covered by an
    APPROVED approval of the matching kind on the same request with enough remaining amount."""
    if not needs_approval_for_posting(kind=kind, amount_usd=amount_usd, rules=rules):
        return []
    field = ("input", "approvalId")
    problem: str | None = None
    if approval is None:
        problem = f"{kind} of {amount.amount} {amount.currency} needs an approved approval"
    elif approval.request_id != request_id or approval.kind is not kind:
        problem = f"the approval is not a {kind} approval of this request"
    elif approval.status is not ApprovalStatus.APPROVED:
        problem = f"the approval is {approval.status}"
    elif approval.amount is None or approval.amount.currency != amount.currency:
        problem = f"the approval is not in {amount.currency}"
    elif remaining(approval.amount.amount, approval.consumed) < amount.amount:
        problem = "the approval's remaining amount does not cover this amount"
    return [DomainError(UserErrorCode.APPROVAL_REQUIRED, problem, field)] if problem else []
