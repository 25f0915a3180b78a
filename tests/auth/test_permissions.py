"""The permission table matches ACCESS.md; token scopes restrict it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auth.permissions import (
    ALL_SCOPES,
    CREDIT_FIELDS,
    Capability,
    allowed_scopes,
    can_add_comment,
    can_decide_level,
    can_see_comment,
    can_see_customer,
    capabilities,
    has,
    visible_credit_fields,
)
from auth.principal import Principal
from domain.enums import ApprovalLevel, CommentVisibility, Role
from resolvers.context import Context
from schema.errors import Forbidden

C = Capability

# Written out from ACCESS.md's table, row by row, independently of auth/permissions.py.
EXTERNAL = {
    C.READ_REQUESTS,
    C.READ_CUSTOMERS,
    C.CREATE_REQUEST,
    C.ADD_COMMENT,
    C.CUSTOMER_TRANSITIONS,
    C.SUBSCRIBE_EVENTS,
}
OPERATOR = {
    C.READ_REQUESTS,
    C.READ_CUSTOMERS,
    C.READ_INTERNAL_COMMENTS,
    C.READ_CREDIT_DATA,
    C.READ_APPROVALS,
    C.READ_TEAMS,
    C.CREATE_REQUEST,
    C.ADD_COMMENT,
    C.ADD_INTERNAL_COMMENT,
    C.CUSTOMER_TRANSITIONS,
    C.STAFF_TRANSITIONS,
    C.REQUEST_APPROVAL,
    C.POST_ADJUSTMENT,
    C.DECIDE_APPROVAL,
    C.READ_METRICS,
    C.SUBSCRIBE_EVENTS,
    C.SUBSCRIBE_SLA_ALERTS,
    C.SUBSCRIBE_APPROVALS,
    # EMAIL.md: inbound/outbound mail read with requests:read, held mail handled with requests:write.
    C.READ_MAIL,
    C.HANDLE_MAIL,
}
EXPECTED: dict[Role, set[Capability]] = {
    Role.CUSTOMER: EXTERNAL | {C.READ_OWN_CREDIT_LIMIT},
    Role.PARTNER: EXTERNAL | {C.MANAGE_WEBHOOKS},  # WEBHOOKS.md: its own endpoints
    Role.AGENT: OPERATOR,
    Role.SUPERVISOR: OPERATOR,
    Role.FINANCE: OPERATOR,
    Role.ADMIN: OPERATOR | {C.READ_AUDIT, C.MANAGE_WEBHOOKS},
    Role.AUDITOR: {
        C.READ_REQUESTS,
        C.READ_CUSTOMERS,
        C.READ_INTERNAL_COMMENTS,
        C.READ_CREDIT_DATA,
        C.READ_APPROVALS,
        C.READ_TEAMS,
        C.READ_METRICS,
        C.READ_AUDIT,
        C.SUBSCRIBE_EVENTS,
        C.READ_MAIL,
    },
}

STAFF = (Role.AGENT, Role.SUPERVISOR, Role.FINANCE, Role.ADMIN, Role.AUDITOR)


def principal(
    role: Role,
    scopes: frozenset[str] = ALL_SCOPES,
    *,
    customer_ids: frozenset[int] | None = None,
    customer_id: int | None = None,
    level: ApprovalLevel | None = None,
) -> Principal:
    staff = role in STAFF
    return Principal(
        subject="someone",
        roles=frozenset({role}),
        scopes=scopes,
        expires_at=datetime.now(UTC) + timedelta(hours=1),
        staff_id=1 if staff else None,
        approval_level=level or (ApprovalLevel.AGENT if staff else None),
        customer_id=customer_id,
        customer_ids=None if staff else (customer_ids or frozenset()),
    )


@pytest.mark.parametrize("role", list(Role))
def test_every_role_has_exactly_the_capabilities_of_access_md(role: Role) -> None:
    assert capabilities({role}) == EXPECTED[role]
    me = principal(role, customer_ids=frozenset({1}), customer_id=1)
    assert {c for c in Capability if has(me, c)} == EXPECTED[role]


def test_default_scopes_of_each_role() -> None:
    external = {"requests:read", "requests:write", "customers:read"}
    assert allowed_scopes({Role.CUSTOMER}) == external
    assert allowed_scopes({Role.PARTNER}) == external
    assert allowed_scopes({Role.AGENT}) == ALL_SCOPES - {"audit:read"}
    assert allowed_scopes({Role.ADMIN}) == ALL_SCOPES
    assert allowed_scopes({Role.AUDITOR}) == {"requests:read", "customers:read", "metrics:read", "audit:read"}
    assert allowed_scopes(set()) == frozenset()


def test_scopes_restrict_the_role() -> None:
    reader = principal(Role.SUPERVISOR, frozenset({"requests:read"}))
    assert has(reader, C.READ_REQUESTS)
    assert has(reader, C.READ_CUSTOMERS)
    assert not has(reader, C.STAFF_TRANSITIONS)
    assert not has(reader, C.POST_ADJUSTMENT)
    assert not has(reader, C.DECIDE_APPROVAL)
    assert not has(reader, C.READ_METRICS)
    assert not has(reader, C.READ_CREDIT_DATA)
    # The one `require` (every resolver asks the operation's context) answers FORBIDDEN.
    as_reader = Context(services=None, request=None, principal_or_none=reader)  # type: ignore[arg-type]
    with pytest.raises(Forbidden):
        as_reader.require(C.STAFF_TRANSITIONS)
    assert as_reader.require(C.READ_REQUESTS) is reader

    customers_only = principal(Role.AGENT, frozenset({"customers:read"}))
    assert has(customers_only, C.READ_CUSTOMERS)
    assert has(customers_only, C.READ_CREDIT_DATA)
    assert not has(customers_only, C.READ_REQUESTS)

    writer = principal(Role.FINANCE, frozenset({"requests:write"}))
    assert has(writer, C.REQUEST_APPROVAL)
    assert not has(writer, C.POST_ADJUSTMENT)
    assert has(principal(Role.FINANCE, frozenset({"adjustments:post"})), C.POST_ADJUSTMENT)


def test_a_scope_never_grants_what_the_role_lacks() -> None:
    assert not has(principal(Role.AUDITOR), C.STAFF_TRANSITIONS)
    assert not has(principal(Role.AGENT), C.READ_AUDIT)
    assert not has(principal(Role.CUSTOMER, customer_ids=frozenset({1})), C.READ_METRICS)


def test_credit_fields_by_role() -> None:
    assert visible_credit_fields(principal(Role.AGENT), 7) == CREDIT_FIELDS
    assert visible_credit_fields(principal(Role.AUDITOR), 7) == CREDIT_FIELDS
    own = principal(Role.CUSTOMER, customer_ids=frozenset({7}), customer_id=7)
    assert visible_credit_fields(own, 7) == {"creditLimit"}
    assert visible_credit_fields(own, 8) == frozenset()
    no_customer_scope = principal(
        Role.CUSTOMER, frozenset({"requests:read"}), customer_ids=frozenset({7}), customer_id=7
    )
    assert visible_credit_fields(no_customer_scope, 7) == frozenset()
    partner = principal(Role.PARTNER, customer_ids=frozenset({7, 8}))
    assert visible_credit_fields(partner, 7) == frozenset()
    assert visible_credit_fields(principal(Role.AGENT, frozenset({"requests:read"})), 7) == frozenset()


def test_customer_visibility() -> None:
    partner = principal(Role.PARTNER, customer_ids=frozenset({7, 8}))
    assert can_see_customer(partner, 8)
    assert not can_see_customer(partner, 9)
    assert can_see_customer(principal(Role.AUDITOR), 9)
    assert not can_see_customer(principal(Role.AGENT, frozenset({"metrics:read"})), 9)


def test_comments() -> None:
    customer = principal(Role.CUSTOMER, customer_ids=frozenset({1}))
    assert can_see_comment(customer, CommentVisibility.PUBLIC)
    assert not can_see_comment(customer, CommentVisibility.INTERNAL)
    assert can_add_comment(customer, CommentVisibility.PUBLIC)
    assert not can_add_comment(customer, CommentVisibility.INTERNAL)
    auditor = principal(Role.AUDITOR)
    assert can_see_comment(auditor, CommentVisibility.INTERNAL)
    assert not can_add_comment(auditor, CommentVisibility.PUBLIC)
    assert can_add_comment(principal(Role.AGENT), CommentVisibility.INTERNAL)


def test_decide_up_to_the_approval_level() -> None:
    supervisor = principal(Role.SUPERVISOR, level=ApprovalLevel.SUPERVISOR)
    assert can_decide_level(supervisor, ApprovalLevel.AGENT)
    assert can_decide_level(supervisor, ApprovalLevel.SUPERVISOR)
    assert not can_decide_level(supervisor, ApprovalLevel.FINANCE_MANAGER)
    no_scope = principal(Role.SUPERVISOR, frozenset({"requests:write"}), level=ApprovalLevel.CONTROLLER)
    assert not can_decide_level(no_scope, ApprovalLevel.AGENT)
    assert not can_decide_level(principal(Role.AUDITOR, level=ApprovalLevel.CONTROLLER), ApprovalLevel.AGENT)


@given(
    role=st.sampled_from(list(Role)),
    scopes=st.frozensets(st.sampled_from(sorted(ALL_SCOPES))),
    extra=st.frozensets(st.sampled_from(sorted(ALL_SCOPES))),
)
def test_more_scopes_never_take_a_capability_away(
    role: Role, scopes: frozenset[str], extra: frozenset[str]
) -> None:
    fewer, more = principal(role, scopes), principal(role, scopes | extra)
    for capability in Capability:
        if has(fewer, capability):
            assert has(more, capability)


@pytest.mark.parametrize("role", list(Role))
def test_default_scopes_unlock_every_capability_of_the_role(role: Role) -> None:
    me = principal(role, allowed_scopes({role}))
    assert {c for c in Capability if has(me, c)} == EXPECTED[role]
