"""The transition table: every (status, action) pair, who may act, guards and precedence."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.enums import CommentVisibility, RequestEventKind, RequestStatus, Role, TransitionAction
from domain.errors import DomainError, UserErrorCode
from domain.lifecycle import (
    OPEN_STATUSES,
    STATUS_TIMESTAMP_FIELD,
    SYSTEM_ACTOR,
    Actor,
    RequestFacts,
    TransitionForbidden,
    allowed_actions,
    auto_close_due,
    check_transition,
    comment_effect,
    event_kind,
    transition_errors,
)
from domain.rules import DEFAULT_RULES
from tests.domain.builders import customer, request, staff, utc

S = RequestStatus
A = TransitionAction
NOW = utc(2026, 11, 23, 12)
RULES = DEFAULT_RULES.lifecycle
OPEN = set(OPEN_STATUSES)

# LIFECYCLE.md §1 written out independently of domain.lifecycle.TRANSITIONS.
CONTRACT: dict[TransitionAction, tuple[set[RequestStatus], RequestStatus | None]] = {
    A.TRIAGE: ({S.NEW}, S.TRIAGED),
    A.ASSIGN: (OPEN, None),
    A.START_WORK: ({S.TRIAGED}, S.IN_PROGRESS),
    A.REQUEST_CUSTOMER_INFO: ({S.IN_PROGRESS}, S.WAITING_ON_CUSTOMER),
    A.PROVIDE_CUSTOMER_INFO: ({S.WAITING_ON_CUSTOMER}, S.IN_PROGRESS),
    A.REQUEST_APPROVAL: ({S.IN_PROGRESS}, S.PENDING_APPROVAL),
    A.RESOLVE: ({S.IN_PROGRESS}, S.RESOLVED),
    A.CLOSE: ({S.RESOLVED}, S.CLOSED),
    A.REOPEN: ({S.RESOLVED}, S.IN_PROGRESS),
    A.CANCEL: ({S.NEW, S.TRIAGED, S.IN_PROGRESS, S.WAITING_ON_CUSTOMER}, S.CANCELLED),
    A.ESCALATE: (OPEN, None),
}
CUSTOMER_ACTIONS = {A.PROVIDE_CUSTOMER_INFO, A.CLOSE, A.REOPEN, A.CANCEL}
ASSIGNEE_ACTIONS = {A.START_WORK, A.REQUEST_CUSTOMER_INFO, A.REQUEST_APPROVAL, A.RESOLVE, A.ESCALATE}
ALL_PAIRS = [(status, action) for status in RequestStatus for action in TransitionAction]


def facts(status: RequestStatus, **kw: object) -> RequestFacts:
    return request(status, resolved_at=NOW - timedelta(days=1), **kw)  # type: ignore[arg-type]


def attempt(
    action: TransitionAction, req: RequestFacts, actor: Actor, **kw: object
) -> RequestStatus | UserErrorCode:
    try:
        return check_transition(
            action=action, request=req, actor=actor, now=NOW, message="hello", rules=RULES, **kw
        )  # type: ignore[arg-type]
    except DomainError as error:
        return error.code


def listed(req: RequestFacts, actor: Actor) -> dict[TransitionAction, RequestStatus]:
    return dict(allowed_actions(request=req, actor=actor, now=NOW, rules=RULES))


@pytest.mark.parametrize(("status", "action"), ALL_PAIRS)
def test_supervisor_every_pair(status: RequestStatus, action: TransitionAction) -> None:
    sources, target = CONTRACT[action]
    actor = staff(Role.SUPERVISOR, staff_id=1)
    req = facts(status)
    expected = (target or status) if status in sources else UserErrorCode.INVALID_TRANSITION
    assert attempt(action, req, actor, assignee_id=7) == expected
    assert listed(req, actor).get(action) == (expected if isinstance(expected, RequestStatus) else None)


@pytest.mark.parametrize(("status", "action"), ALL_PAIRS)
def test_customer_every_pair(status: RequestStatus, action: TransitionAction) -> None:
    sources, target = CONTRACT[action]
    req = facts(status)
    if action not in CUSTOMER_ACTIONS:
        with pytest.raises(TransitionForbidden):
            check_transition(action=action, request=req, actor=customer(), now=NOW, message="x", rules=RULES)
        assert action not in listed(req, customer())
        return
    allowed = status in sources and not (action is A.CANCEL and status is S.IN_PROGRESS)
    expected = (target or status) if allowed else UserErrorCode.INVALID_TRANSITION
    assert attempt(action, req, customer()) == expected
    assert attempt(action, req, customer(role=Role.PARTNER)) == expected
    assert (action in listed(req, customer())) is allowed


@pytest.mark.parametrize(("status", "action"), ALL_PAIRS)
def test_agent_not_assignee_every_pair(status: RequestStatus, action: TransitionAction) -> None:
    sources, target = CONTRACT[action]
    agent = staff(Role.AGENT, staff_id=8)  # the request is assigned to 7
    req = facts(status)
    allowed = status in sources and action not in ASSIGNEE_ACTIONS
    expected = (target or status) if allowed else UserErrorCode.INVALID_TRANSITION
    assert attempt(action, req, agent, assignee_id=8) == expected
    assert (action in listed(req, agent)) is allowed


@pytest.mark.parametrize("action", sorted(ASSIGNEE_ACTIONS))
def test_agent_as_assignee_may_do_assignee_actions(action: TransitionAction) -> None:
    sources, target = CONTRACT[action]
    status = sorted(sources)[0]
    assert attempt(action, facts(status), staff(Role.AGENT, staff_id=7)) == (target or status)


@pytest.mark.parametrize("role", [Role.FINANCE, Role.ADMIN])
def test_finance_and_admin_act_like_supervisors(role: Role) -> None:
    actor = staff(role, staff_id=99)
    assert attempt(A.RESOLVE, facts(S.IN_PROGRESS), actor) is S.RESOLVED
    assert attempt(A.ASSIGN, facts(S.NEW), actor, assignee_id=3) is S.NEW


def test_auditor_may_do_nothing() -> None:
    auditor = staff(Role.AUDITOR, staff_id=5)
    for status, action in ALL_PAIRS:
        with pytest.raises(TransitionForbidden):
            check_transition(
                action=action, request=facts(status), actor=auditor, now=NOW, message="x", rules=RULES
            )
    assert all(listed(facts(status), auditor) == {} for status in RequestStatus)


def test_someone_elses_request_is_not_found() -> None:
    for role in (Role.CUSTOMER, Role.PARTNER):
        assert attempt(A.CANCEL, facts(S.NEW), customer(own=False, role=role)) is UserErrorCode.NOT_FOUND
        assert listed(facts(S.NEW), customer(own=False, role=role)) == {}


def test_assign_rules() -> None:
    agent = staff(Role.AGENT, staff_id=8)
    assert attempt(A.ASSIGN, facts(S.TRIAGED), agent, assignee_id=8) is S.TRIAGED
    assert attempt(A.ASSIGN, facts(S.TRIAGED), agent, assignee_id=9) is UserErrorCode.INVALID_TRANSITION
    assert attempt(A.ASSIGN, facts(S.TRIAGED), agent, assignee_id=None) is UserErrorCode.INVALID_TRANSITION
    supervisor = staff(Role.SUPERVISOR, staff_id=1)
    assert attempt(A.ASSIGN, facts(S.TRIAGED), supervisor, assignee_id=None) is S.TRIAGED


def test_start_work_needs_an_assignee() -> None:
    unassigned = facts(S.TRIAGED, assignee_id=None)
    assert (
        attempt(A.START_WORK, unassigned, staff(Role.SUPERVISOR, staff_id=1))
        is UserErrorCode.INVALID_TRANSITION
    )
    assert A.START_WORK not in listed(unassigned, staff(Role.SUPERVISOR, staff_id=1))


def test_reopen_within_14_days_of_resolution() -> None:
    actor = customer()
    on_time = request(S.RESOLVED, resolved_at=NOW - timedelta(days=14))
    assert attempt(A.REOPEN, on_time, actor) is S.IN_PROGRESS
    late = request(S.RESOLVED, resolved_at=NOW - timedelta(days=14, seconds=1))
    assert attempt(A.REOPEN, late, actor) is UserErrorCode.INVALID_TRANSITION
    assert A.REOPEN not in listed(late, actor) and A.CLOSE in listed(late, actor)


def test_message_required_and_precedence() -> None:
    supervisor = staff(Role.SUPERVISOR, staff_id=1)
    with pytest.raises(DomainError) as caught:
        check_transition(
            action=A.REQUEST_CUSTOMER_INFO,
            request=facts(S.IN_PROGRESS),
            actor=supervisor,
            now=NOW,
            message="  ",
            rules=RULES,
        )
    assert caught.value.code is UserErrorCode.VALIDATION_FAILED and caught.value.field == ("input", "message")
    # Missing message + wrong status + stale version: VALIDATION_FAILED is reported first.
    errors = transition_errors(
        action=A.PROVIDE_CUSTOMER_INFO,
        request=facts(S.NEW),
        actor=customer(),
        now=NOW,
        message=None,
        expected_version=1,
        rules=RULES,
    )
    assert {e.code for e in errors} == {
        UserErrorCode.VALIDATION_FAILED,
        UserErrorCode.VERSION_CONFLICT,
        UserErrorCode.INVALID_TRANSITION,
    }
    assert attempt(A.TRIAGE, facts(S.NEW), supervisor, expected_version=3) is S.TRIAGED
    assert (
        attempt(A.TRIAGE, facts(S.IN_PROGRESS), supervisor, expected_version=2)
        is UserErrorCode.VERSION_CONFLICT
    )


def test_resolve_with_pending_approval() -> None:
    pending = facts(S.IN_PROGRESS, has_pending_approval=True)
    assert attempt(A.RESOLVE, pending, staff(Role.SUPERVISOR, staff_id=1)) is UserErrorCode.APPROVAL_REQUIRED
    assert A.RESOLVE not in listed(pending, staff(Role.SUPERVISOR, staff_id=1))


def test_system_actor_escalates_and_closes() -> None:
    assert attempt(A.ESCALATE, facts(S.IN_PROGRESS, assignee_id=None), SYSTEM_ACTOR) is S.IN_PROGRESS
    assert attempt(A.CLOSE, facts(S.RESOLVED), SYSTEM_ACTOR) is S.CLOSED


def test_auto_close_after_7_days() -> None:
    resolved = NOW - timedelta(days=7)
    assert auto_close_due(status=S.RESOLVED, resolved_at=resolved, now=NOW, rules=RULES)
    assert not auto_close_due(
        status=S.RESOLVED, resolved_at=resolved + timedelta(seconds=1), now=NOW, rules=RULES
    )
    assert not auto_close_due(status=S.CLOSED, resolved_at=resolved, now=NOW, rules=RULES)


def test_status_timestamps_and_events() -> None:
    assert set(STATUS_TIMESTAMP_FIELD) == set(RequestStatus)
    assert STATUS_TIMESTAMP_FIELD[S.WAITING_ON_CUSTOMER] == "waiting_on_customer_at"
    assert event_kind(A.TRIAGE) is RequestEventKind.TRIAGED
    assert event_kind(A.ASSIGN) is RequestEventKind.ASSIGNED
    assert event_kind(A.ESCALATE) is RequestEventKind.ESCALATED
    assert event_kind(A.RESOLVE) is RequestEventKind.STATUS_CHANGED


def test_comment_effects() -> None:
    public, internal = CommentVisibility.PUBLIC, CommentVisibility.INTERNAL
    agent = staff(Role.AGENT, staff_id=8)
    assert comment_effect(status=S.NEW, actor=agent, visibility=public).first_response
    assert not comment_effect(status=S.NEW, actor=agent, visibility=internal).first_response
    waiting = comment_effect(status=S.WAITING_ON_CUSTOMER, actor=customer(), visibility=public)
    assert waiting.resumes and not waiting.first_response
    assert not comment_effect(status=S.IN_PROGRESS, actor=customer(), visibility=public).resumes
    assert not comment_effect(status=S.WAITING_ON_CUSTOMER, actor=agent, visibility=public).resumes
