"""The service request aggregate: lock, read and write a request and its comments (keyword-only async).

Every transaction that changes a request calls `lock_request` FIRST, so the
per-request event order equals the commit order (db/events.py relies on it).
The SLA clock and the transition guards read a request through
RequestRow.lifecycle_facts / sla_snapshot (records.rows): the services and the
read side (`availableTransitions`, `Sla`) build them there only.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, any_, bindparam, exists, insert, select, true, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from db.queries.scope import CustomerScope
from db.repositories.configuration import rules_from_rows, rules_rows_columns
from db.repositories.policies import LoadedPolicy, loaded_policy, policy_select
from db.tables import ADJUSTMENTS, APPROVALS, COMMENTS, CONTACTS, POLICIES, REQUESTS, columns
from domain.enums import ApprovalStatus, CommentVisibility, RequestStatus
from domain.rules import DEFAULT_RULES, Rules
from domain.sla import SlaPolicy, next_check_at
from records.rows import CommentRow, RequestRow

__all__ = [
    "NewComment",
    "changed",
    "has_pending_approval",
    "has_posted_adjustment",
    "insert_comment",
    "insert_request",
    "lock_request",
    "merged",
    "next_sla_check",
    "public_comments",
    "scope_params",
    "transition_context",
    "update_request",
    "update_request_with_comment",
]

R = REQUESTS.c
_ROW_FIELDS = frozenset(f.name for f in fields(RequestRow))


def next_sla_check(
    row: RequestRow, policy: SlaPolicy, *, auto_close_after: timedelta | None = None
) -> datetime | None:
    """`next_sla_check_at` for a request in this state (the SLA engine's index).

    A RESOLVED request is due for auto-close `auto_close_after` (None: the shipped
    rules' 7 days) after its resolution: the SLA engine closes it then.
    """
    if row.status == RequestStatus.RESOLVED.value and row.resolved_at is not None:
        return row.resolved_at + (auto_close_after or DEFAULT_RULES.lifecycle.auto_close_after)
    return next_check_at(row.sla_snapshot(policy), row.alerted_targets())


async def has_pending_approval(session: AsyncSession, *, request_id: int) -> bool:
    """Whether an approval of the request is still PENDING (RESOLVE is refused then)."""
    stmt = select(
        exists().where(
            APPROVALS.c.request_id == request_id, APPROVALS.c.status == ApprovalStatus.PENDING.value
        )
    )
    return bool(await session.scalar(stmt))


async def has_posted_adjustment(session: AsyncSession, *, request_id: int) -> bool:
    """Whether an adjustment was posted on the request (resolution code ADJUSTMENT_POSTED needs one)."""
    return bool(await session.scalar(select(exists().where(ADJUSTMENTS.c.request_id == request_id))))


# The hot statements of the write path are built once, with bound parameters: SQLAlchemy then
# neither rebuilds them nor recomputes their cache keys per execution (the statement object
# memoizes its key), which was a third of the Python time of a mailed request.


def _scope_clause(column: ColumnElement[Any], scoped: bool) -> ColumnElement[bool]:
    """`in_scope` with the customers as the parameter `scope` (an array: one plan for any scope)."""
    return column == any_(bindparam("scope", type_=ARRAY(BigInteger))) if scoped else true()


def scope_params(scope: CustomerScope) -> dict[str, Any]:
    """The parameters of `_scope_clause` for `scope` (None: all customers)."""
    return {} if scope is None else {"scope": sorted(scope)}


@functools.cache
def _lock_sql(scoped: bool) -> Any:
    return (
        select(*columns(REQUESTS, RequestRow))
        .where(R.id == bindparam("request_id", type_=BigInteger), _scope_clause(R.customer_id, scoped))
        .with_for_update()
    )


async def lock_request(
    session: AsyncSession, *, request_id: int, scope: CustomerScope = None
) -> RequestRow | None:
    """The request row, locked FOR UPDATE until the transaction ends; None when there is no such
    request among the `scope` customers (None: all), the same scope in SQL as every read."""
    params = {"request_id": request_id, **scope_params(scope)}
    found = (await session.execute(_lock_sql(scope is not None), params)).mappings().first()
    return RequestRow.of(found) if found is not None else None


@dataclass(frozen=True, slots=True)
class TransitionContext:
    """What a transition of a locked request reads besides the row, read in one statement."""

    has_pending_approval: bool
    rules: Rules
    policy: LoadedPolicy


@functools.cache
def _context_sql() -> Any:
    pending = select(
        exists().where(
            APPROVALS.c.request_id == bindparam("request_id", type_=BigInteger),
            APPROVALS.c.status == ApprovalStatus.PENDING.value,
        )
    ).scalar_subquery()
    names, texts = rules_rows_columns()
    return (
        policy_select()
        .add_columns(pending.label("pending"), names.label("rule_names"), texts.label("rule_texts"))
        .where(POLICIES.c.id == bindparam("policy_id", type_=BigInteger))
    )


async def transition_context(session: AsyncSession, *, request_id: int, policy_id: int) -> TransitionContext:
    """Pending approval, business rules and the request's SLA policy in ONE round trip.

    Call it after `lock_request`: a statement of its own, so it sees everything committed
    before the lock was granted (as `has_pending_approval`, `load_rules`, `policy_by_id` do).
    """
    row = (await session.execute(_context_sql(), {"request_id": request_id, "policy_id": policy_id})).one()
    return TransitionContext(
        has_pending_approval=bool(row.pending),
        rules=rules_from_rows(row.rule_names, row.rule_texts),
        policy=loaded_policy(row),
    )


def merged(row: RequestRow, values: Mapping[str, Any]) -> RequestRow:
    """The row as it will read after `values` are written (columns RequestRow does not carry are ignored)."""
    return replace(row, **{k: v for k, v in values.items() if k in _ROW_FIELDS})


def _param(name: str) -> Any:
    return bindparam(f"v_{name}", type_=REQUESTS.c[name].type)


@functools.lru_cache(maxsize=256)
def _update_sql(names: tuple[str, ...], with_comment: bool = False) -> Any:
    stmt = (
        update(REQUESTS)
        .where(R.id == bindparam("request_id", type_=BigInteger))
        .values(
            {
                **{name: _param(name) for name in names},
                "version": R.version + 1,
                "updated_at": bindparam("now", type_=R.updated_at.type),
            }
        )
    )
    if not with_comment:
        return stmt.returning(*columns(REQUESTS, RequestRow))
    # The comment's INSERT as a CTE of the UPDATE: both in one round trip, the new id returned beside
    # the row (the comment's parameters are named c_<column>).
    new_comment = (
        insert(COMMENTS)
        .values({name: bindparam(f"c_{name}", type_=COMMENTS.c[name].type) for name in _COMMENT_COLUMNS})
        .returning(COMMENTS.c.id)
        .cte("new_comment")
    )
    comment_id = select(new_comment.c.id).scalar_subquery().label("new_comment_id")
    return stmt.add_cte(new_comment).returning(*columns(REQUESTS, RequestRow), comment_id)


async def update_request(
    session: AsyncSession, *, request_id: int, values: Mapping[str, Any], now: datetime
) -> RequestRow:
    """Write `values`, bump `version` by one and stamp `updated_at`; the row as written."""
    names = tuple(sorted(values))
    params = {f"v_{name}": values[name] for name in names}
    stmt = _update_sql(names)
    found = await session.execute(stmt, {**params, "request_id": request_id, "now": now})
    return RequestRow.of(found.mappings().one())


async def update_request_with_comment(
    session: AsyncSession,
    *,
    request_id: int,
    values: Mapping[str, Any],
    now: datetime,
    comment: NewComment,
) -> tuple[RequestRow, int]:
    """`update_request` and `insert_comment` of the same request in ONE statement: the row as
    written and the new comment's id."""
    names = tuple(sorted(values))
    params = {f"v_{name}": values[name] for name in names}
    params.update({f"c_{name}": value for name, value in comment.params(request_id, now).items()})
    found = await session.execute(_update_sql(names, True), {**params, "request_id": request_id, "now": now})
    record = found.mappings().one()
    return RequestRow.of(record), int(record["new_comment_id"])


@functools.lru_cache(maxsize=64)
def _insert_sql(names: tuple[str, ...], requester_of_subject: bool) -> Any:
    values = {name: _param(name) for name in names}
    if requester_of_subject:
        values["requester_contact_id"] = (
            select(CONTACTS.c.id)
            .where(
                CONTACTS.c.email == bindparam("requester_subject", type_=CONTACTS.c.email.type),
                CONTACTS.c.customer_id == _param("customer_id"),
            )
            .scalar_subquery()
        )
    return insert(REQUESTS).values(values).returning(*columns(REQUESTS, RequestRow))


async def insert_request(
    session: AsyncSession, *, values: Mapping[str, Any], requester_of_subject: str | None = None
) -> RequestRow:
    """Insert a new request; the row as written (number assigned by the database).

    `requester_of_subject`: a token subject; when it is a contact of the request's customer,
    that contact is the requester (`values` then names no requester).
    """
    names = tuple(sorted(values))
    params = {f"v_{name}": values[name] for name in names}
    if requester_of_subject is not None:
        params["requester_subject"] = requester_of_subject.lower()
    stmt = _insert_sql(names, requester_of_subject is not None)
    return RequestRow.of((await session.execute(stmt, params)).mappings().one())


_COMMENT_COLUMNS = (
    "request_id",
    "body",
    "visibility",
    "author_subject",
    "author_name",
    "author_role",
    "channel",
    "created_at",
)
_INSERT_COMMENT = (
    insert(COMMENTS)
    .values({name: bindparam(name, type_=COMMENTS.c[name].type) for name in _COMMENT_COLUMNS})
    .returning(COMMENTS.c.id)
)


@dataclass(frozen=True, slots=True)
class NewComment:
    """A comment to write on a request (its id and creation time come with the write)."""

    body: str
    visibility: str
    author_subject: str
    author_name: str
    author_role: str
    channel: str = "PORTAL"

    def params(self, request_id: int, now: datetime) -> dict[str, Any]:
        """The comments row (the _COMMENT_COLUMNS)."""
        return {
            "request_id": request_id,
            "body": self.body,
            "visibility": self.visibility,
            "author_subject": self.author_subject,
            "author_name": self.author_name,
            "author_role": self.author_role,
            "channel": self.channel,
            "created_at": now,
        }


async def insert_comment(
    session: AsyncSession,
    *,
    request_id: int,
    body: str,
    visibility: str,
    author_subject: str,
    author_name: str,
    author_role: str,
    now: datetime,
    channel: str = "PORTAL",
) -> int:
    """A new comment's id."""
    params = {
        "request_id": request_id,
        "body": body,
        "visibility": visibility,
        "author_subject": author_subject,
        "author_name": author_name,
        "author_role": author_role,
        "channel": channel,
        "created_at": now,
    }
    return int((await session.execute(_INSERT_COMMENT, params)).scalar_one())


async def public_comments(session: AsyncSession, *, request_id: int) -> list[CommentRow]:
    """The request's PUBLIC comments, oldest first."""
    stmt = (
        select(*columns(COMMENTS, CommentRow))
        .where(COMMENTS.c.request_id == request_id, COMMENTS.c.visibility == CommentVisibility.PUBLIC.value)
        .order_by(COMMENTS.c.id)
    )
    return [CommentRow.of(r) for r in (await session.execute(stmt)).mappings()]


def changed(
    before: RequestRow, after: RequestRow, names: Sequence[str] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Audit before/after of the columns that differ (or of `names`)."""
    keys = names if names is not None else [f.name for f in fields(RequestRow)]
    diff = [k for k in keys if getattr(before, k) != getattr(after, k)]
    return {k: getattr(before, k) for k in diff}, {k: getattr(after, k) for k in diff}
