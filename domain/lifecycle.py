"""The request lifecycle: one transition table and the checks both mutations and
`availableTransitions` use (LIFECYCLE.md §1, ACCESS.md).

Failures are split in two: an action the caller's role may never perform
raises `TransitionForbidden` (a top-level FORBIDDEN), everything else is a
`DomainError` with its UserErrorCode, reported by precedence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from domain.enums import (
    OPEN_STATUSES,
    CommentVisibility,
    RequestEventKind,
    RequestStatus,
    Role,
    TransitionAction,
)
from domain.errors import DomainError, UserErrorCode, first_error
from domain.rules import LifecycleRules

__all__ = [
    "OPEN_STATUSES",
    "STATUS_TIMESTAMP_FIELD",
    "SUPERVISOR_ROLES",
    "SYSTEM_ACTOR",
    "TRANSITIONS",
    "Actor",
    "CommentEffect",
    "RequestFacts",
    "TransitionForbidden",
    "TransitionRule",
    "Who",
    "allowed_actions",
    "auto_close_due",
    "check_transition",
    "check_version",
    "comment_effect",
    "event_kind",
    "is_open",
    "transition_errors",
]

# FINANCE and ADMIN have a supervisor's transition rights.
SUPERVISOR_ROLES = frozenset({Role.SUPERVISOR, Role.FINANCE, Role.ADMIN})
_CUSTOMER_SIDE = frozenset({Role.CUSTOMER, Role.PARTNER})


class Who(StrEnum):
    """Who may perform an action (ACCESS.md's role table refined by LIFECYCLE.md §1)."""

    STAFF = "STAFF"  # any agent or supervisor
    ASSIGNEE_OR_SUPERVISOR = "ASSIGNEE_OR_SUPERVISOR"
    SELF_OR_SUPERVISOR = "SELF_OR_SUPERVISOR"  # ASSIGN: an agent may only assign themself
    CUSTOMER_OR_STAFF = "CUSTOMER_OR_STAFF"  # customer (own), partner (linked), staff


@dataclass(frozen=True, slots=True)
class TransitionRule:
    action: TransitionAction
    from_statuses: frozenset[RequestStatus]
    to_status: RequestStatus | None  # None: status unchanged
    who: Who
    # Where a CUSTOMER or PARTNER may act from, when narrower than `from_statuses` (CANCEL).
    customer_from: frozenset[RequestStatus] | None = None
    message_required: bool = False
    # The transition talks to the customer: its message becomes a PUBLIC comment.
    public_message: bool = False

    @property
    def customer_statuses(self) -> frozenset[RequestStatus]:
        """Statuses a CUSTOMER or PARTNER may perform this action from (none for staff actions)."""
        if self.who is not Who.CUSTOMER_OR_STAFF:
            return frozenset()
        return self.from_statuses if self.customer_from is None else self.customer_from


_S = RequestStatus
_A = TransitionAction
_CANCELLABLE = frozenset({_S.NEW, _S.TRIAGED, _S.IN_PROGRESS, _S.WAITING_ON_CUSTOMER})

TRANSITIONS: Mapping[TransitionAction, TransitionRule] = {
    rule.action: rule
    for rule in (
        TransitionRule(_A.TRIAGE, frozenset({_S.NEW}), _S.TRIAGED, Who.STAFF),
        TransitionRule(_A.ASSIGN, OPEN_STATUSES, None, Who.SELF_OR_SUPERVISOR),
        TransitionRule(_A.START_WORK, frozenset({_S.TRIAGED}), _S.IN_PROGRESS, Who.ASSIGNEE_OR_SUPERVISOR),
        TransitionRule(
            _A.REQUEST_CUSTOMER_INFO,
            frozenset({_S.IN_PROGRESS}),
            _S.WAITING_ON_CUSTOMER,
            Who.ASSIGNEE_OR_SUPERVISOR,
            message_required=True,
            public_message=True,
        ),
        TransitionRule(
            _A.PROVIDE_CUSTOMER_INFO,
            frozenset({_S.WAITING_ON_CUSTOMER}),
            _S.IN_PROGRESS,
            Who.CUSTOMER_OR_STAFF,
            message_required=True,
            public_message=True,
        ),
        TransitionRule(
            _A.REQUEST_APPROVAL, frozenset({_S.IN_PROGRESS}), _S.PENDING_APPROVAL, Who.ASSIGNEE_OR_SUPERVISOR
        ),
        TransitionRule(_A.RESOLVE, frozenset({_S.IN_PROGRESS}), _S.RESOLVED, Who.ASSIGNEE_OR_SUPERVISOR),
        TransitionRule(
            _A.CLOSE, frozenset({_S.RESOLVED}), _S.CLOSED, Who.CUSTOMER_OR_STAFF, public_message=True
        ),
        TransitionRule(
            _A.REOPEN, frozenset({_S.RESOLVED}), _S.IN_PROGRESS, Who.CUSTOMER_OR_STAFF, public_message=True
        ),
        TransitionRule(
            _A.CANCEL,
            _CANCELLABLE,
            _S.CANCELLED,
            Who.CUSTOMER_OR_STAFF,
            customer_from=_CANCELLABLE - {_S.IN_PROGRESS},
            public_message=True,
        ),
        TransitionRule(_A.ESCALATE, OPEN_STATUSES, None, Who.ASSIGNEE_OR_SUPERVISOR),
    )
}

# The request column set on entering a status (the latest entry into it).
STATUS_TIMESTAMP_FIELD: Mapping[RequestStatus, str] = {
    _S.NEW: "created_at",
    _S.TRIAGED: "triaged_at",
    _S.IN_PROGRESS: "in_progress_at",
    _S.WAITING_ON_CUSTOMER: "waiting_on_customer_at",
    _S.PENDING_APPROVAL: "pending_approval_at",
    _S.RESOLVED: "resolved_at",
    _S.CLOSED: "closed_at",
    _S.CANCELLED: "cancelled_at",
}


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: roles, staff id (staff only) and whether the request's customer is theirs.

    `acts_for_customer` is True for staff, for a CUSTOMER on their own
    customer and a PARTNER on a linked one. `system` is the SLA engine and
    auto-close: no who-rule applies to it.
    """

    roles: frozenset[Role]
    staff_id: int | None = None
    acts_for_customer: bool = True
    system: bool = False

    @property
    def is_supervisor(self) -> bool:
        """SUPERVISOR, FINANCE, ADMIN (and the system): the supervisor's transition rights."""
        return self.system or bool(self.roles & SUPERVISOR_ROLES)

    @property
    def is_working_staff(self) -> bool:
        """An agent or supervisor-like staff member (AUDITOR is read-only)."""
        return self.is_supervisor or (Role.AGENT in self.roles and self.staff_id is not None)

    @property
    def is_customer_side(self) -> bool:
        """A CUSTOMER or PARTNER caller."""
        return bool(self.roles & _CUSTOMER_SIDE)

    def is_assignee(self, request: RequestFacts) -> bool:
        """True when this staff member is the request's assignee."""
        return self.staff_id is not None and self.staff_id == request.assignee_id


SYSTEM_ACTOR = Actor(roles=frozenset(), system=True)


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What the transition guards need of a request."""

    status: RequestStatus
    customer_id: int
    version: int
    assignee_id: int | None = None
    resolved_at: datetime | None = None
    has_pending_approval: bool = False


class TransitionForbidden(Exception):
    """The caller's role may never perform this action: a top-level FORBIDDEN error."""


def is_open(status: RequestStatus) -> bool:
    """NEW, TRIAGED, IN_PROGRESS, WAITING_ON_CUSTOMER and PENDING_APPROVAL."""
    return status in OPEN_STATUSES


def event_kind(action: TransitionAction) -> RequestEventKind:
    """The timeline event an action records (besides COMMENTED for its message)."""
    return {
        _A.TRIAGE: RequestEventKind.TRIAGED,
        _A.ASSIGN: RequestEventKind.ASSIGNED,
        _A.ESCALATE: RequestEventKind.ESCALATED,
    }.get(action, RequestEventKind.STATUS_CHANGED)


def _role_allows(rule: TransitionRule, actor: Actor) -> bool:
    if actor.is_working_staff:
        return True
    return rule.who is Who.CUSTOMER_OR_STAFF and actor.is_customer_side


def check_version(*, expected_version: int | None, version: int) -> DomainError | None:
    """VERSION_CONFLICT when the caller's `expectedVersion` is stale (None: not checked)."""
    if expected_version is None or expected_version == version:
        return None
    return DomainError(
        UserErrorCode.VERSION_CONFLICT,
        f"the request changed (version {version}, expected {expected_version}); reload and retry",
        ("input", "expectedVersion"),
    )


def _state_errors(
    rule: TransitionRule, *, request: RequestFacts, actor: Actor, now: datetime, rules: LifecycleRules
) -> list[DomainError]:
    """Status, who-on-this-request and guard failures: independent of the input."""
    invalid = UserErrorCode.INVALID_TRANSITION
    errors = []
    if not actor.acts_for_customer:
        errors.append(DomainError(UserErrorCode.NOT_FOUND, "service request not found", ("input", "id")))
    if request.status not in rule.from_statuses:
        errors.append(DomainError(invalid, f"{rule.action} is not possible from {request.status}"))
    elif not actor.is_working_staff and request.status not in rule.customer_statuses:
        errors.append(DomainError(invalid, f"customers cannot {rule.action} from {request.status}"))
    if rule.who is Who.ASSIGNEE_OR_SUPERVISOR and not actor.is_supervisor and not actor.is_assignee(request):
        errors.append(DomainError(invalid, f"only the assignee or a supervisor may {rule.action}"))
    if rule.action is _A.START_WORK and request.assignee_id is None:
        errors.append(DomainError(invalid, "assign the request before starting work"))
    if (
        rule.action is _A.REOPEN
        and request.resolved_at is not None
        and now > request.resolved_at + rules.reopen_window
    ):
        errors.append(
            DomainError(invalid, f"a request can be reopened within {rules.reopen_window.days} days")
        )
    if rule.action is _A.RESOLVE and request.has_pending_approval:
        errors.append(
            DomainError(UserErrorCode.APPROVAL_REQUIRED, "a pending approval must be decided first")
        )
    return errors


def transition_errors(
    *,
    action: TransitionAction,
    request: RequestFacts,
    actor: Actor,
    now: datetime,
    message: str | None = None,
    expected_version: int | None = None,
    assignee_id: int | None = None,
    rules: LifecycleRules,
) -> list[DomainError]:
    """Every rule `action` breaks for this input (unordered); callers add their own and pick
    `first_error`. Raises TransitionForbidden when the role may never perform it.

    `assignee_id` is ASSIGN's target (None: the routing engine picks).
    """
    rule = TRANSITIONS[action]
    if not (actor.system or _role_allows(rule, actor)):
        raise TransitionForbidden(f"{sorted(actor.roles)} may not {action}")
    errors = _state_errors(rule, request=request, actor=actor, now=now, rules=rules)
    if rule.message_required and not (message and message.strip()):
        errors.append(
            DomainError(UserErrorCode.VALIDATION_FAILED, "a message is required", ("input", "message"))
        )
    if (
        action is _A.ASSIGN
        and not actor.is_supervisor
        and (assignee_id is None or assignee_id != actor.staff_id)
    ):
        errors.append(
            DomainError(
                UserErrorCode.INVALID_TRANSITION, "agents may only assign themselves", ("input", "assigneeId")
            )
        )
    version_error = check_version(expected_version=expected_version, version=request.version)
    if version_error is not None:
        errors.append(version_error)
    return errors


def check_transition(
    *,
    action: TransitionAction,
    request: RequestFacts,
    actor: Actor,
    now: datetime,
    message: str | None = None,
    expected_version: int | None = None,
    assignee_id: int | None = None,
    rules: LifecycleRules,
) -> RequestStatus:
    """The status after `action`, or the first broken rule as DomainError (TransitionForbidden
    for a role that may never act)."""
    errors = transition_errors(
        action=action,
        request=request,
        actor=actor,
        now=now,
        message=message,
        expected_version=expected_version,
        assignee_id=assignee_id,
        rules=rules,
    )
    error = first_error(errors)
    if error is not None:
        raise error
    return TRANSITIONS[action].to_status or request.status


def allowed_actions(
    *, request: RequestFacts, actor: Actor, now: datetime, rules: LifecycleRules
) -> list[tuple[TransitionAction, RequestStatus]]:
    """`availableTransitions`: the actions this actor could perform now with a correct input,
    checked by `transition_errors` itself (a message given, an agent assigning themself)."""
    result = []
    for action, rule in TRANSITIONS.items():
        try:
            errors = transition_errors(
                action=action,
                request=request,
                actor=actor,
                now=now,
                message="-",
                assignee_id=actor.staff_id,
                rules=rules,
            )
        except TransitionForbidden:
            continue
        if not errors:
            result.append((action, rule.to_status or request.status))
    return result


def auto_close_due(
    *,
    status: RequestStatus,
    resolved_at: datetime | None,
    now: datetime,
    rules: LifecycleRules,
) -> bool:
    """True when a RESOLVED request is to be CLOSED automatically (7 days after resolution)."""
    return status is _S.RESOLVED and resolved_at is not None and now >= resolved_at + rules.auto_close_after


@dataclass(frozen=True, slots=True)
class CommentEffect:
    first_response: bool  # counts as the request's first response
    resumes: bool  # acts as PROVIDE_CUSTOMER_INFO (WAITING_ON_CUSTOMER -> IN_PROGRESS)


def comment_effect(*, status: RequestStatus, actor: Actor, visibility: CommentVisibility) -> CommentEffect:
    """What a comment does to the SLA: a staff PUBLIC comment is a first response; a customer's
    PUBLIC comment while WAITING_ON_CUSTOMER resumes the request like PROVIDE_CUSTOMER_INFO."""
    public = visibility is CommentVisibility.PUBLIC
    return CommentEffect(
        first_response=public and actor.is_working_staff,
        resumes=public and not actor.is_working_staff and status is _S.WAITING_ON_CUSTOMER,
    )
