"""Access policy as data: what each Role may ever do, and which token scope each capability needs.

The effective permission of a caller is the set of capabilities granted by
their roles, restricted to those whose scope the token carries (ACCESS.md).
Whether a given *row* is visible (own customer, linked customers) is a second,
independent check: `can_see_customer`. Every GraphQL permission class and
resolver asks these functions; nothing else decides access. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from auth.principal import Principal
from domain.enums import ApprovalLevel, CommentVisibility, Role, TransitionAction
from domain.lifecycle import TRANSITIONS, Who

__all__ = [
    "ALL_SCOPES",
    "CAPABILITY_SCOPES",
    "CREDIT_FIELDS",
    "ROLE_CAPABILITIES",
    "Capability",
    "Scope",
    "allowed_scopes",
    "can_add_comment",
    "can_decide_level",
    "can_see_comment",
    "can_see_customer",
    "capabilities",
    "has",
    "transition_capability",
    "visible_credit_fields",
]


class Scope(StrEnum):
    """OAuth scopes a token may carry (ACCESS.md)."""

    REQUESTS_READ = "requests:read"
    REQUESTS_WRITE = "requests:write"
    CUSTOMERS_READ = "customers:read"
    APPROVALS_DECIDE = "approvals:decide"
    ADJUSTMENTS_POST = "adjustments:post"
    METRICS_READ = "metrics:read"
    AUDIT_READ = "audit:read"


ALL_SCOPES: frozenset[str] = frozenset(s.value for s in Scope)


class Capability(StrEnum):
    """Something a caller may do; data visibility is checked separately (`can_see_customer`)."""

    # Service requests, invoices, payments (and their events) of the caller's customers.
    READ_REQUESTS = "READ_REQUESTS"
    # Customer master data (name, segment, KYC...) of the caller's customers.
    READ_CUSTOMERS = "READ_CUSTOMERS"
    READ_INTERNAL_COMMENTS = "READ_INTERNAL_COMMENTS"
    # creditLimit, riskRating, paymentBehavior, financialHealth of every visible customer.
    READ_CREDIT_DATA = "READ_CREDIT_DATA"
    # creditLimit of the caller's own customer only (CUSTOMER role).
    READ_OWN_CREDIT_LIMIT = "READ_OWN_CREDIT_LIMIT"
    # Approvals (maker-checker records): internal, staff only.
    READ_APPROVALS = "READ_APPROVALS"
    # Teams and staff directory.
    READ_TEAMS = "READ_TEAMS"
    CREATE_REQUEST = "CREATE_REQUEST"
    # PUBLIC comments; INTERNAL ones need ADD_INTERNAL_COMMENT.
    ADD_COMMENT = "ADD_COMMENT"
    ADD_INTERNAL_COMMENT = "ADD_INTERNAL_COMMENT"
    # provide info, close, reopen, cancel.
    CUSTOMER_TRANSITIONS = "CUSTOMER_TRANSITIONS"
    # triage, assign, start, request info, escalate, resolve (who exactly: LIFECYCLE §1, domain rules).
    STAFF_TRANSITIONS = "STAFF_TRANSITIONS"
    REQUEST_APPROVAL = "REQUEST_APPROVAL"
    # postAdjustment and applyPayment.
    POST_ADJUSTMENT = "POST_ADJUSTMENT"
    # decideApproval; the level is checked by `can_decide_level`.
    DECIDE_APPROVAL = "DECIDE_APPROVAL"
    READ_METRICS = "READ_METRICS"
    # auditLog and verifyAuditChain.
    READ_AUDIT = "READ_AUDIT"
    SUBSCRIBE_EVENTS = "SUBSCRIBE_EVENTS"
    SUBSCRIBE_SLA_ALERTS = "SUBSCRIBE_SLA_ALERTS"
    SUBSCRIBE_APPROVALS = "SUBSCRIBE_APPROVALS"
    # The email channel (EMAIL.md): inbound and outbound mails are staff reads; held mail is
    # linked or discarded by staff who write requests.
    READ_MAIL = "READ_MAIL"
    HANDLE_MAIL = "HANDLE_MAIL"
    # Webhook endpoints (WEBHOOKS.md): a partner its own, an ADMIN every one.
    MANAGE_WEBHOOKS = "MANAGE_WEBHOOKS"


C = Capability
S = Scope

# A capability is usable when the token carries at least ONE of these scopes.
CAPABILITY_SCOPES: dict[Capability, frozenset[str]] = {
    C.READ_REQUESTS: frozenset({S.REQUESTS_READ}),
    # Reading customers is part of reading one's requests, or a scope of its own.
    C.READ_CUSTOMERS: frozenset({S.CUSTOMERS_READ, S.REQUESTS_READ}),
    C.READ_INTERNAL_COMMENTS: frozenset({S.REQUESTS_READ}),
    # Credit data is customer master data: only the customers scope opens it.
    C.READ_CREDIT_DATA: frozenset({S.CUSTOMERS_READ}),
    C.READ_OWN_CREDIT_LIMIT: frozenset({S.CUSTOMERS_READ}),
    C.READ_APPROVALS: frozenset({S.REQUESTS_READ}),
    C.READ_TEAMS: frozenset({S.REQUESTS_READ}),
    C.CREATE_REQUEST: frozenset({S.REQUESTS_WRITE}),
    C.ADD_COMMENT: frozenset({S.REQUESTS_WRITE}),
    C.ADD_INTERNAL_COMMENT: frozenset({S.REQUESTS_WRITE}),
    C.CUSTOMER_TRANSITIONS: frozenset({S.REQUESTS_WRITE}),
    C.STAFF_TRANSITIONS: frozenset({S.REQUESTS_WRITE}),
    C.REQUEST_APPROVAL: frozenset({S.REQUESTS_WRITE}),
    C.POST_ADJUSTMENT: frozenset({S.ADJUSTMENTS_POST}),
    C.DECIDE_APPROVAL: frozenset({S.APPROVALS_DECIDE}),
    C.READ_METRICS: frozenset({S.METRICS_READ}),
    C.READ_AUDIT: frozenset({S.AUDIT_READ}),
    C.SUBSCRIBE_EVENTS: frozenset({S.REQUESTS_READ}),
    C.SUBSCRIBE_SLA_ALERTS: frozenset({S.REQUESTS_READ}),
    C.SUBSCRIBE_APPROVALS: frozenset({S.APPROVALS_DECIDE}),
    C.READ_MAIL: frozenset({S.REQUESTS_READ}),
    C.HANDLE_MAIL: frozenset({S.REQUESTS_WRITE}),
    C.MANAGE_WEBHOOKS: frozenset({S.REQUESTS_READ}),
}

_EXTERNAL = frozenset(
    {
        C.READ_REQUESTS,
        C.READ_CUSTOMERS,
        C.CREATE_REQUEST,
        C.ADD_COMMENT,
        C.CUSTOMER_TRANSITIONS,
        C.SUBSCRIBE_EVENTS,
    }
)
_STAFF_READ = frozenset(
    {
        C.READ_REQUESTS,
        C.READ_CUSTOMERS,
        C.READ_INTERNAL_COMMENTS,
        C.READ_CREDIT_DATA,
        C.READ_APPROVALS,
        C.READ_TEAMS,
        C.READ_METRICS,
        C.SUBSCRIBE_EVENTS,
        C.READ_MAIL,
    }
)
_OPERATOR = _STAFF_READ | {
    C.CREATE_REQUEST,
    C.ADD_COMMENT,
    C.ADD_INTERNAL_COMMENT,
    C.CUSTOMER_TRANSITIONS,
    C.STAFF_TRANSITIONS,
    C.REQUEST_APPROVAL,
    C.POST_ADJUSTMENT,
    C.DECIDE_APPROVAL,
    C.SUBSCRIBE_SLA_ALERTS,
    C.SUBSCRIBE_APPROVALS,
    C.HANDLE_MAIL,
}

# The role table of ACCESS.md. Row-level scope (own / linked customers) comes from
# Principal.customer_ids; finer "who" rules (assignee, approval level) from the domain.
ROLE_CAPABILITIES: dict[Role, frozenset[Capability]] = {
    Role.CUSTOMER: _EXTERNAL | {C.READ_OWN_CREDIT_LIMIT},
    Role.PARTNER: _EXTERNAL | {C.MANAGE_WEBHOOKS},
    Role.AGENT: frozenset(_OPERATOR),
    Role.SUPERVISOR: frozenset(_OPERATOR),
    Role.FINANCE: frozenset(_OPERATOR),
    Role.ADMIN: frozenset(_OPERATOR | {C.READ_AUDIT, C.MANAGE_WEBHOOKS}),
    Role.AUDITOR: frozenset(_STAFF_READ | {C.READ_AUDIT}),
}

# GraphQL field names of Customer that carry credit data.
CREDIT_FIELDS: frozenset[str] = frozenset({"creditLimit", "riskRating", "paymentBehavior", "financialHealth"})
_OWN_CREDIT_FIELDS: frozenset[str] = frozenset({"creditLimit"})


def capabilities(roles: Iterable[Role]) -> frozenset[Capability]:
    """Everything the given roles may ever do, before scopes."""
    granted: set[Capability] = set()
    for role in roles:
        granted |= ROLE_CAPABILITIES[Role(role)]
    return frozenset(granted)


def allowed_scopes(roles: Iterable[Role]) -> frozenset[str]:
    """Scopes that mean something for these roles; a dev token gets all of them by default."""
    return frozenset(scope for cap in capabilities(roles) for scope in CAPABILITY_SCOPES[cap])


def has(principal: Principal, capability: Capability) -> bool:
    """True when a role of the caller grants `capability` and the token carries a scope for it."""
    return capability in capabilities(principal.roles) and not CAPABILITY_SCOPES[capability].isdisjoint(
        principal.scopes
    )


def can_see_customer(principal: Principal, customer_id: int) -> bool:
    """Whether data of this customer exists for the caller (own / linked customers, or staff)."""
    readable = has(principal, C.READ_REQUESTS) or has(principal, C.READ_CUSTOMERS)
    return readable and principal.sees_customer(customer_id)


def visible_credit_fields(principal: Principal, customer_id: int) -> frozenset[str]:
    """Credit fields of this customer that resolve to a value for the caller; the others are null."""
    if not can_see_customer(principal, customer_id):
        return frozenset()
    if has(principal, C.READ_CREDIT_DATA):
        return CREDIT_FIELDS
    if has(principal, C.READ_OWN_CREDIT_LIMIT) and principal.customer_id == customer_id:
        return _OWN_CREDIT_FIELDS
    return frozenset()


def can_see_comment(principal: Principal, visibility: CommentVisibility) -> bool:
    """INTERNAL comments (and their events) exist only for callers who may read them."""
    if visibility is CommentVisibility.INTERNAL:
        return has(principal, C.READ_INTERNAL_COMMENTS)
    return has(principal, C.READ_REQUESTS)


def can_add_comment(principal: Principal, visibility: CommentVisibility) -> bool:
    """Whether the caller may write a comment of this visibility (row scope checked separately)."""
    if visibility is CommentVisibility.INTERNAL:
        return has(principal, C.ADD_INTERNAL_COMMENT)
    return has(principal, C.ADD_COMMENT)


def can_decide_level(principal: Principal, required: ApprovalLevel) -> bool:
    """Whether the caller may decide an approval of this level (segregation of duties: domain rules)."""
    if not has(principal, C.DECIDE_APPROVAL) or principal.approval_level is None:
        return False
    return principal.approval_level.rank >= required.rank


def transition_capability(action: TransitionAction) -> Capability:
    """The token capability a lifecycle action needs (its mutation and `availableTransitions` ask this)."""
    if action is TransitionAction.REQUEST_APPROVAL:
        return C.REQUEST_APPROVAL
    if TRANSITIONS[action].who is Who.CUSTOMER_OR_STAFF:
        return C.CUSTOMER_TRANSITIONS
    return C.STAFF_TRANSITIONS
