"""The lifecycle transitions of an existing request (LIFECYCLE.md §1, §3, §5) over one unit of work.

`perform_transition` locks the request first, asks domain.lifecycle whether
the action is allowed (TransitionForbidden for a role that may never act,
DomainError by precedence otherwise), applies the action's effects and
saves. It knows nothing of GraphQL: the mutations and the system operations
(SLA escalation, auto-close) share it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import NamedTuple

from db.repositories.approvals import cancel_pending_approvals
from db.repositories.configuration import exchange_rates
from db.repositories.customers import capture_facts, customer_facts
from db.repositories.ledger import clear_dispute_unless_open, set_invoice_disputed
from db.repositories.policies import policy_for
from db.repositories.requests import has_posted_adjustment, lock_request, transition_context
from db.repositories.staff import mark_assigned, staff_member, team_by_id, team_ids_of
from db.uow import UnitOfWork
from domain.calendar import utc_date
from domain.capture import TEXT_MAX, MoneyInput, capture_errors, text_error
from domain.enums import (
    Channel,
    CommentVisibility,
    KycStatus,
    Priority,
    RequestEventKind,
    RequestStatus,
    RequestType,
    ResolutionCode,
    TransitionAction,
)
from domain.errors import DomainError, UserErrorCode, first_error, not_found
from domain.lifecycle import STATUS_TIMESTAMP_FIELD, TRANSITIONS, transition_errors
from domain.routing import escalate_priority
from domain.rules import Rules
from domain.sla import SlaSnapshot, rederive_due_times, reopened_resolution_due, resume_due_times
from records.rows import RequestRecord, RequestRow
from services.author import Author
from services.requests.change import RequestChange
from services.requests.routing import Routed, impact_usd, route, route_within

__all__ = ["TransitionSpec", "Transitioned", "perform_transition", "resume_waiting"]

_A = TransitionAction
_S = RequestStatus
_INVALID = UserErrorCode.VALIDATION_FAILED


@dataclass(frozen=True, slots=True)
class TransitionSpec:
    """One transition as the caller asked for it (ids already decoded)."""

    action: TransitionAction
    expected_version: int | None
    message: str | None = None
    new_type: RequestType | None = None  # TRIAGE
    new_priority: Priority | None = None  # TRIAGE
    assignee_id: int | None = None  # ASSIGN
    team_id: int | None = None  # ASSIGN
    code: ResolutionCode | None = None  # RESOLVE
    summary: str | None = None  # RESOLVE
    duplicate_of_id: int | None = None  # CANCEL as a duplicate of that request (markDuplicate)
    channel: Channel = Channel.PORTAL  # where the message comes from (EMAIL: a mailed reply)


@dataclass
class _Work:
    uow: UnitOfWork
    row: RequestRow
    spec: TransitionSpec
    author: Author
    rules: Rules


class Transitioned(NamedTuple):
    """What a transition wrote: the row (as UPDATE ... RETURNING gave it back), the comments, and
    the request as a read would answer it (with its SLA policy and calendar rows), for payloads."""

    row: RequestRow
    comment_ids: list[int]
    record: RequestRecord


async def perform_transition(
    uow: UnitOfWork,
    *,
    request_id: int,
    spec: TransitionSpec,
    author: Author,
    locked: RequestRow | None = None,
) -> Transitioned:
    """Apply `spec` to the request; the row as written, ids of comments written. Raises DomainError
    (nothing written once the caller rolls back) or TransitionForbidden.

    `locked`: the request as the caller locked it in this transaction, within `author.scope`;
    otherwise it is locked here.
    """
    row = locked or await lock_request(uow.session, request_id=request_id, scope=author.scope)
    if row is None:
        raise not_found("service request", "id")
    # Pending approval, business rules (read in every transaction) and SLA policy: one round trip.
    context = await transition_context(uow.session, request_id=row.id, policy_id=row.sla_policy_id)
    rules, pending = context.rules, context.has_pending_approval
    message = spec.message if spec.message is not None and spec.message.strip() else None
    errors = transition_errors(
        action=spec.action,
        request=row.lifecycle_facts(has_pending_approval=pending),
        actor=author.actor,
        now=uow.now,
        message=message,
        expected_version=spec.expected_version,
        assignee_id=spec.assignee_id,
        rules=rules.lifecycle,
    )
    message_error = (
        None if message is None else text_error(message, maximum=TEXT_MAX, field=("input", "message"))
    )
    if message_error is not None:
        errors.append(message_error)
    work = _Work(uow, row, spec, author, rules)
    check = _CHECKS.get(spec.action)
    if check is not None:
        errors.extend(await check(work))
    error = first_error(errors)
    if error is not None:
        raise error
    change = RequestChange(
        uow,
        row,
        policy=context.policy,
        author=author,
        action=spec.action.value,
        auto_close_after=rules.lifecycle.auto_close_after,
        channel=spec.channel,
    )
    await _EFFECTS[spec.action](work, change, message)
    written = await change.save()
    record = RequestRecord(written, change.policy.row, change.policy.calendar_row)
    return Transitioned(written, change.comment_ids, record)


# ------------------------------------------------------------ extra guards ----


async def _check_assign(work: _Work) -> list[DomainError]:
    session, spec = work.uow.session, work.spec
    errors: list[DomainError] = []
    if spec.team_id is not None and await team_by_id(session, team_id=spec.team_id) is None:
        errors.append(not_found("team", "teamId"))
    if spec.assignee_id is None:
        return errors
    member = await staff_member(session, staff_id=spec.assignee_id)
    if member is None:
        return [*errors, not_found("agent", "assigneeId")]
    teams = await team_ids_of(session, staff_id=member.id)
    team_id = spec.team_id or work.row.team_id or (teams[0] if teams else None)
    if not member.active:
        errors.append(
            DomainError(_INVALID, "the assignee is not an active staff member", ("input", "assigneeId"))
        )
    elif team_id not in teams:
        errors.append(
            DomainError(_INVALID, "the assignee is not a member of the team", ("input", "assigneeId"))
        )
    return errors


async def _check_resolve(work: _Work) -> list[DomainError]:
    errors: list[DomainError] = []
    summary_error = text_error(work.spec.summary or "", maximum=TEXT_MAX, field=("input", "summary"))
    if summary_error is not None:
        errors.append(summary_error)
    if work.spec.code is ResolutionCode.ADJUSTMENT_POSTED and not await has_posted_adjustment(
        work.uow.session, request_id=work.row.id
    ):
        errors.append(
            DomainError(
                _INVALID, "ADJUSTMENT_POSTED needs a posted adjustment on the request", ("input", "code")
            )
        )
    return errors


async def _check_triage(work: _Work) -> list[DomainError]:
    """A new type must be one the request could have been captured as (LIFECYCLE §2).

    The request's own invoice, payment, amount and customer are checked against the new type's
    rules as at its creation (the dispute window counts from the day the customer raised it);
    each refusal points at `type`, the field that asked for the change.
    """
    new_type, row = work.spec.new_type, work.row
    if new_type is None or new_type.value == row.type:
        return []
    session = work.uow.session
    raised_on = utc_date(row.created_at)
    customer = await customer_facts(session, customer_id=row.customer_id, today=raised_on, rules=work.rules)
    assert customer is not None  # foreign key
    invoice, payment = await capture_facts(session, invoice_id=row.invoice_id, payment_id=row.payment_id)
    impact = None
    if row.financial_impact_amount is not None and row.financial_impact_currency is not None:
        impact = MoneyInput(row.financial_impact_amount, row.financial_impact_currency)
    errors = capture_errors(
        customer_id=row.customer_id,
        request_type=new_type,
        subject=row.subject,
        description=row.description,
        financial_impact=impact,
        invoice_id=row.invoice_id,
        invoice=invoice,
        payment_id=row.payment_id,
        payment=payment,
        kyc_status=KycStatus(customer.customer.kyc_status),
        dispute_window_days=customer.dispute_window_days,
        today=raised_on,
        rules=work.rules.lifecycle,
    )
    return [
        DomainError(error.code, f"type {new_type.value}: {error.message}", ("input", "type"))
        for error in errors
    ]


_CHECKS: dict[TransitionAction, Callable[[_Work], Awaitable[list[DomainError]]]] = {
    _A.TRIAGE: _check_triage,
    _A.ASSIGN: _check_assign,
    _A.RESOLVE: _check_resolve,
}


# ----------------------------------------------------------------- effects ----


def _enter(change: RequestChange, action: TransitionAction) -> None:
    to_status = TRANSITIONS[action].to_status
    assert to_status is not None
    change.move_to(to_status, STATUS_TIMESTAMP_FIELD[to_status])


async def _talk(change: RequestChange, action: TransitionAction, message: str | None) -> None:
    """The transition's message: a PUBLIC comment where it talks to the customer, else INTERNAL."""
    if message is None:
        return
    public = TRANSITIONS[action].public_message
    change.comment_at_save(message, CommentVisibility.PUBLIC if public else CommentVisibility.INTERNAL)


async def _triage(work: _Work, change: RequestChange, message: str | None) -> None:
    row, spec = work.row, work.spec
    change.status_change(_S.TRIAGED, STATUS_TIMESTAMP_FIELD[_S.TRIAGED])
    change.event(RequestEventKind.TRIAGED, from_status=row.status, to_status=_S.TRIAGED.value)
    if spec.new_type is not None and spec.new_type.value != row.type:
        change.set(type=spec.new_type.value)
        await _retype_dispute(work, spec.new_type)
    if spec.new_priority is not None and spec.new_priority.value != row.priority:
        customer = await customer_facts(
            work.uow.session, customer_id=row.customer_id, today=utc_date(change.now), rules=work.rules
        )
        assert customer is not None
        policy = await policy_for(work.uow.session, tier=customer.tier, priority=spec.new_priority)
        due = rederive_due_times(
            policy=policy.policy, created_at=row.created_at, paused_seconds=row.paused_seconds
        )
        change.policy = policy
        change.set(
            priority=spec.new_priority.value,
            sla_policy_id=policy.id,
            first_response_due_at=due.first_response_due_at,
            resolution_due_at=due.resolution_due_at,
        )


async def _assign(work: _Work, change: RequestChange, message: str | None) -> None:
    spec, row = work.spec, work.row
    request_type = RequestType(row.type)
    if spec.assignee_id is not None:
        teams = await team_ids_of(work.uow.session, staff_id=spec.assignee_id)
        team_id = spec.team_id or row.team_id or teams[0]
        previous = await mark_assigned(work.uow.session, staff_id=spec.assignee_id, now=change.now)
        work.uow.audit(
            "ASSIGN", "Agent", spec.assignee_id, {"lastAssignedAt": previous}, {"lastAssignedAt": change.now}
        )
        routed = Routed(
            team_id, spec.assignee_id, {"rule": "manual", "reason": f"assigned by {work.author.name}"}
        )
    elif spec.team_id is not None:
        routed = await route_within(work.uow, team_id=spec.team_id, request_type=request_type)
    else:
        routed = await _auto_route(work, escalated=row.escalated)
    _apply_routing(change, routed, RequestEventKind.ASSIGNED)


async def _auto_route(work: _Work, *, escalated: bool) -> Routed:
    row = work.row
    customer = await customer_facts(
        work.uow.session, customer_id=row.customer_id, today=utc_date(work.uow.now), rules=work.rules
    )
    assert customer is not None
    rates = await exchange_rates(work.uow.session)
    return await route(
        work.uow,
        request_type=RequestType(row.type),
        impact=impact_usd(row, rates),
        risk=customer.risk,
        escalated=escalated,
        rules=work.rules,
    )


def _apply_routing(change: RequestChange, routed: Routed, kind: RequestEventKind, **extra: object) -> None:
    change.set(team_id=routed.team_id, assignee_id=routed.assignee_id)
    details = {**routed.details, "teamId": routed.team_id, "assigneeId": routed.assignee_id, **extra}
    change.event(kind, details=details)


async def _start_work(work: _Work, change: RequestChange, message: str | None) -> None:
    _enter(change, _A.START_WORK)
    await _talk(change, _A.START_WORK, message)


async def _request_info(work: _Work, change: RequestChange, message: str | None) -> None:
    _enter(change, _A.REQUEST_CUSTOMER_INFO)
    change.set(paused_at=change.now)
    await _talk(change, _A.REQUEST_CUSTOMER_INFO, message)


def resume_waiting(change: RequestChange) -> None:
    """WAITING_ON_CUSTOMER ends: back to IN_PROGRESS, due times moved by the paused time."""
    row = change.before
    snapshot: SlaSnapshot = row.sla_snapshot(change.policy.policy)
    resumed = resume_due_times(snapshot=snapshot, resumed_at=change.now)
    change.move_to(_S.IN_PROGRESS, STATUS_TIMESTAMP_FIELD[_S.IN_PROGRESS])
    change.set(
        paused_at=None,
        paused_seconds=row.paused_seconds + resumed.paused_seconds,
        first_response_due_at=resumed.due.first_response_due_at,
        resolution_due_at=resumed.due.resolution_due_at,
    )


async def _provide_info(work: _Work, change: RequestChange, message: str | None) -> None:
    resume_waiting(change)
    await _talk(change, _A.PROVIDE_CUSTOMER_INFO, message)


async def _clear_dispute(work: _Work) -> None:
    """Clear the invoice's `disputed` unless another open dispute remains on it."""
    row = work.row
    if row.type != RequestType.BILLING_DISPUTE.value or row.invoice_id is None:
        return
    if await clear_dispute_unless_open(work.uow.session, invoice_id=row.invoice_id, request_id=row.id):
        work.uow.audit(
            work.spec.action.value, "Invoice", row.invoice_id, {"disputed": True}, {"disputed": False}
        )


async def _retype_dispute(work: _Work, new_type: RequestType) -> None:
    """A type change at triage moves the invoice's dispute flag with it."""
    row = work.row
    if row.invoice_id is None:
        return
    if new_type is RequestType.BILLING_DISPUTE:
        if await set_invoice_disputed(work.uow.session, invoice_id=row.invoice_id):
            work.uow.audit("TRIAGE", "Invoice", row.invoice_id, {"disputed": False}, {"disputed": True})
    elif row.type == RequestType.BILLING_DISPUTE.value:
        await _clear_dispute(work)


async def _resolve(work: _Work, change: RequestChange, message: str | None) -> None:
    spec = work.spec
    assert spec.code is not None and spec.summary is not None
    _enter(change, _A.RESOLVE)
    change.set(
        resolved_by_id=work.author.staff_id, resolution_code=spec.code.value, resolution_summary=spec.summary
    )
    change.comment_at_save(spec.summary, CommentVisibility.PUBLIC)
    await _clear_dispute(work)


async def _close(work: _Work, change: RequestChange, message: str | None) -> None:
    _enter(change, _A.CLOSE)
    await _talk(change, _A.CLOSE, message)


async def _reopen(work: _Work, change: RequestChange, message: str | None) -> None:
    row = work.row
    _enter(change, _A.REOPEN)
    change.set(
        reopened_count=row.reopened_count + 1,
        resolution_due_at=reopened_resolution_due(policy=change.policy.policy, now=change.now),
    )
    # A breach stays a breach: a late resolution the SLA engine had not stamped yet is kept.
    if (
        row.resolution_breached_at is None
        and row.resolved_at is not None
        and row.resolved_at > row.resolution_due_at
    ):
        change.set(resolution_breached_at=row.resolution_due_at)
    await _talk(change, _A.REOPEN, message)


async def _cancel(work: _Work, change: RequestChange, message: str | None) -> None:
    original_id = work.spec.duplicate_of_id
    if original_id is None:
        _enter(change, _A.CANCEL)
    else:
        # Closed as a duplicate: the cancel links the original and is audited as markDuplicate.
        change.action = "MARK_DUPLICATE"
        field = STATUS_TIMESTAMP_FIELD[_S.CANCELLED]
        change.move_to(_S.CANCELLED, field, details={"duplicateOfId": original_id})
        change.set(duplicate_of_id=original_id)
    change.set(paused_at=None)
    cancelled = await cancel_pending_approvals(work.uow.session, request_id=work.row.id, now=change.now)
    for approval_id in cancelled:
        work.uow.audit("CANCEL", "Approval", approval_id, {"status": "PENDING"}, {"status": "CANCELLED"})
    await _clear_dispute(work)
    await _talk(change, _A.CANCEL, message)


async def _escalate(work: _Work, change: RequestChange, message: str | None) -> None:
    row = work.row
    raised = escalate_priority(Priority(row.priority))
    change.set(escalated=True, priority=raised.value)
    # Due times stay as they are: escalation does not buy time.
    routed = await _auto_route(work, escalated=True)
    _apply_routing(
        change, routed, RequestEventKind.ESCALATED, fromPriority=row.priority, toPriority=raised.value
    )
    await _talk(change, _A.ESCALATE, message)


_EFFECTS: dict[TransitionAction, Callable[[_Work, RequestChange, str | None], Awaitable[None]]] = {
    _A.TRIAGE: _triage,
    _A.ASSIGN: _assign,
    _A.START_WORK: _start_work,
    _A.REQUEST_CUSTOMER_INFO: _request_info,
    _A.PROVIDE_CUSTOMER_INFO: _provide_info,
    _A.RESOLVE: _resolve,
    _A.CLOSE: _close,
    _A.REOPEN: _reopen,
    _A.CANCEL: _cancel,
    _A.ESCALATE: _escalate,
}
