"""requestApproval and decideApproval (LIFECYCLE.md §1, §4) over one unit of work.

Both lock the service request first, then the approval, ask domain.approvals
and domain.lifecycle for every broken rule, report the first by precedence
(DomainError, nothing written), and otherwise write the approval, the
request's status change (version + 1), the events and the audit entries.
They know nothing of GraphQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from db.repositories.approvals import (
    approval_request_id,
    decisions_of,
    insert_approval,
    insert_decision,
    lock_approval,
    set_approval_status,
)
from db.repositories.configuration import exchange_rates, load_rules
from db.repositories.customers import customer_dscr, customer_facts
from db.repositories.policies import policy_by_id
from db.repositories.requests import has_pending_approval, lock_request
from db.uow import UnitOfWork
from domain.approvals import (
    ApprovalFacts,
    Approver,
    DecisionFacts,
    approval_request_errors,
    decision_errors,
    outcome,
    required_approval,
)
from domain.calendar import utc_date
from domain.capture import TEXT_MAX, MoneyInput, parse_amount, text_error
from domain.enums import (
    ApprovalKind,
    ApprovalLevel,
    ApprovalStatus,
    Decision,
    KycStatus,
    RequestEventKind,
    RequestStatus,
    TransitionAction,
)
from domain.errors import DomainError, UserErrorCode, first_error, not_found
from domain.lifecycle import STATUS_TIMESTAMP_FIELD, transition_errors
from domain.money import to_usd
from records.rows import ApprovalRow, RequestRow
from services.author import Author
from services.requests.change import RequestChange

__all__ = [
    "ApprovalSpec",
    "DecisionSpec",
    "approval_audit",
    "decide_approval",
    "request_approval",
]

_S = RequestStatus


@dataclass(frozen=True, slots=True)
class ApprovalSpec:
    """requestApproval's input with ids decoded."""

    request_id: int
    expected_version: int
    kind: ApprovalKind
    amount: MoneyInput | None
    justification: str


@dataclass(frozen=True, slots=True)
class DecisionSpec:
    """decideApproval's input with ids decoded."""

    approval_id: int
    decision: Decision
    comment: str | None


def approval_audit(row: ApprovalRow) -> dict[str, Any]:
    """The audit view of an approval."""
    return {
        "requestId": row.request_id,
        "kind": row.kind,
        "amount": row.amount,
        "currency": row.currency,
        "amountUsd": row.amount_usd,
        "consumedAmount": row.consumed_amount,
        "requiredLevel": row.required_level,
        "requiredApprovals": row.required_approvals,
        "status": row.status,
        "requestedById": row.requested_by_id,
    }


async def _locked_request(uow: UnitOfWork, request_id: int, author: Author, field: str) -> RequestRow:
    row = await lock_request(uow.session, request_id=request_id, scope=author.scope)
    if row is None:
        raise not_found("service request" if field == "serviceRequestId" else "approval", field)
    return row


async def _change(uow: UnitOfWork, row: RequestRow, author: Author, action: str) -> RequestChange:
    policy = await policy_by_id(uow.session, policy_id=row.sla_policy_id)
    return RequestChange(uow, row, policy=policy, author=author, action=action)


async def request_approval(
    uow: UnitOfWork, *, spec: ApprovalSpec, author: Author
) -> tuple[ApprovalRow, RequestRow]:
    """IN_PROGRESS -> PENDING_APPROVAL with a new PENDING approval at the matrix's level.

    Raises DomainError (first broken rule) or TransitionForbidden.
    """
    session, now = uow.session, uow.now
    row = await _locked_request(uow, spec.request_id, author, "serviceRequestId")
    rules = await load_rules(session)
    pending = await has_pending_approval(session, request_id=row.id)
    errors = transition_errors(
        action=TransitionAction.REQUEST_APPROVAL,
        request=row.lifecycle_facts(has_pending_approval=pending),
        actor=author.actor,
        now=now,
        expected_version=spec.expected_version,
        rules=rules.lifecycle,
    )
    money = parse_amount(spec.amount, errors)
    justification_error = text_error(spec.justification, maximum=TEXT_MAX, field=("input", "justification"))
    if justification_error is not None:
        errors.append(justification_error)
    customer = await customer_facts(session, customer_id=row.customer_id, today=utc_date(now), rules=rules)
    assert customer is not None  # foreign key
    kind = spec.kind
    if spec.amount is None or money is not None:  # an unparsable amount is reported once, above
        errors.extend(
            approval_request_errors(
                kind=kind, amount=money, kyc_status=KycStatus(customer.customer.kyc_status)
            )
        )
    amount_usd = None
    if money is not None:
        try:
            amount_usd = to_usd(money, await exchange_rates(session))
        except DomainError as conversion_error:
            errors.append(conversion_error)
    error = first_error(errors)
    if error is not None:
        raise error

    dscr = await customer_dscr(session, customer_id=row.customer_id, rules=rules.risk)
    requirement = required_approval(
        kind=kind, amount_usd=amount_usd, customer_risk=customer.risk, dscr=dscr, rules=rules.approval_matrix
    )
    level, count = requirement.for_record()
    approval = await insert_approval(
        session,
        values={
            "request_id": row.id,
            "kind": kind.value,
            "amount": None if money is None else money.amount,
            "currency": None if money is None else money.currency,
            "amount_usd": amount_usd,
            "required_level": level.value,
            "required_approvals": count,
            "status": ApprovalStatus.PENDING.value,
            "justification": spec.justification,
            "requested_by_id": author.staff_id,
            "requested_at": now,
        },
    )
    uow.audit(
        TransitionAction.REQUEST_APPROVAL.value, "Approval", approval.id, None, approval_audit(approval)
    )
    change = await _change(uow, row, author, TransitionAction.REQUEST_APPROVAL.value)
    change.event(
        RequestEventKind.APPROVAL_REQUESTED,
        approval_id=approval.id,
        details={"kind": kind.value, "requiredLevel": level.value, "requiredApprovals": count},
    )
    change.move_to(_S.PENDING_APPROVAL, STATUS_TIMESTAMP_FIELD[_S.PENDING_APPROVAL])
    return approval, await change.save()


def _decision_errors(
    spec: DecisionSpec, row: RequestRow, approval: ApprovalRow, author: Author, prior: list[DecisionFacts]
) -> list[DomainError]:
    principal = author.principal
    assert principal is not None  # only people decide
    errors = decision_errors(
        approval=ApprovalFacts(
            requested_by_id=approval.requested_by_id,
            required_level=ApprovalLevel(approval.required_level),
            status=ApprovalStatus(approval.status),
        ),
        approver=Approver(
            roles=principal.roles, staff_id=principal.staff_id, approval_level=principal.approval_level
        ),
        request_assignee_id=row.assignee_id,
        prior_decisions=prior,
    )
    if approval.status == ApprovalStatus.PENDING.value and row.status != _S.PENDING_APPROVAL.value:
        errors.append(
            DomainError(
                UserErrorCode.INVALID_TRANSITION, f"the request is {row.status}, not PENDING_APPROVAL"
            )
        )
    if spec.comment is not None and spec.comment.strip():
        comment_error = text_error(spec.comment, maximum=TEXT_MAX, field=("input", "comment"))
        if comment_error is not None:
            errors.append(comment_error)
    return errors


async def decide_approval(
    uow: UnitOfWork, *, spec: DecisionSpec, author: Author
) -> tuple[ApprovalRow, RequestRow]:
    """Record one approver's decision; once the approval is APPROVED or REJECTED the request goes
    back PENDING_APPROVAL -> IN_PROGRESS. Raises DomainError (first broken rule)."""
    session, now = uow.session, uow.now
    request_id = await approval_request_id(session, approval_id=spec.approval_id)
    if request_id is None:
        raise not_found("approval", "approvalId")
    row = await _locked_request(uow, request_id, author, "approvalId")
    approval = await lock_approval(session, approval_id=spec.approval_id)
    assert approval is not None  # approvals are never deleted
    prior = [
        DecisionFacts(approver_id=d.approver_id, decision=Decision(d.decision))
        for d in await decisions_of(session, approval_id=approval.id)
    ]
    error = first_error(_decision_errors(spec, row, approval, author, prior))
    if error is not None:
        raise error

    assert author.staff_id is not None  # checked by decision_errors
    comment = spec.comment if spec.comment is not None and spec.comment.strip() else None
    await insert_decision(
        session,
        approval_id=approval.id,
        approver_id=author.staff_id,
        decision=spec.decision.value,
        comment=comment,
        now=now,
    )
    decisions = [*prior, DecisionFacts(approver_id=author.staff_id, decision=spec.decision)]
    status = outcome(decisions=decisions, required_approvals=approval.required_approvals)
    change = await _change(uow, row, author, "DECIDE_APPROVAL")
    change.event(
        RequestEventKind.APPROVAL_DECIDED,
        approval_id=approval.id,
        details={
            "decision": spec.decision.value,
            "approverId": author.staff_id,
            "approvalStatus": status.value,
        },
    )
    written_approval = approval
    if status is not ApprovalStatus.PENDING:
        written_approval = await set_approval_status(
            session, approval_id=approval.id, status=status.value, now=now
        )
        change.move_to(_S.IN_PROGRESS, STATUS_TIMESTAMP_FIELD[_S.IN_PROGRESS])
    uow.audit(
        "DECIDE_APPROVAL",
        "Approval",
        approval.id,
        {"status": approval.status, "approvals": _approvals(prior)},
        {
            "status": written_approval.status,
            "approvals": _approvals(decisions),
            "decision": {"approverId": author.staff_id, "decision": spec.decision.value, "comment": comment},
        },
    )
    return written_approval, await change.save()


def _approvals(decisions: list[DecisionFacts]) -> int:
    return sum(1 for d in decisions if d.decision is Decision.APPROVE)
